package migration.pii;

import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.apache.spark.sql.api.java.UDF3;

/**
 * AES-256-GCM of one value (its UTF-8 bytes; the caller's associated data: the reservation and the field), as
 * {@code 0x02 | nonce(12) | ciphertext | tag(16)},
 * the bytes Spark's {@code aes_encrypt(value, key, 'GCM', 'DEFAULT', '', field)} gives behind the version
 * byte, without its cost. Spark builds a {@code Cipher} (provider look-up, key schedule) for every value;
 * this keeps one per thread and key, so a value costs one {@code init} with a fresh random nonce and the
 * encryption itself. Null value or key: null. The key only ever arrives as an argument (a column), never
 * as a field of this object, so it is in no serialized closure and no plan.
 */
public final class Seal implements UDF3<byte[], byte[], byte[], byte[]> {
  private static final long serialVersionUID = 1L;
  private static final byte VERSION = 0x02; // 0x02: reservation and field as AAD (transforms/pii.py)
  private static final int NONCE_BYTES = 12;
  private static final int TAG_BITS = 128;

  private static final class State {
    final Cipher cipher;
    // One DRBG per thread: the default NativePRNG serializes every nextBytes on one JVM-wide lock, which a
    // 16-core executor would queue on.
    final SecureRandom random;
    byte[] key;
    SecretKeySpec spec;

    State() {
      try {
        cipher = Cipher.getInstance("AES/GCM/NoPadding");
        random = SecureRandom.getInstance("DRBG");
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("AES/GCM or DRBG is not available", e);
      }
    }

    SecretKeySpec spec(byte[] given) {
      if (key == null || !Arrays.equals(key, given)) {
        key = given.clone();
        spec = new SecretKeySpec(key, "AES");
      }
      return spec;
    }
  }

  private static final ThreadLocal<State> STATE = ThreadLocal.withInitial(State::new);

  @Override
  public byte[] call(byte[] plain, byte[] key, byte[] aad) throws Exception {
    if (plain == null || key == null) {
      return null;
    }
    if (key.length != 32) {
      throw new IllegalArgumentException("the data key must be 32 bytes");
    }
    State state = STATE.get();
    byte[] out = new byte[1 + NONCE_BYTES + plain.length + TAG_BITS / 8];
    out[0] = VERSION;
    byte[] nonce = new byte[NONCE_BYTES];
    state.random.nextBytes(nonce);
    System.arraycopy(nonce, 0, out, 1, NONCE_BYTES);
    Cipher cipher = state.cipher;
    cipher.init(Cipher.ENCRYPT_MODE, state.spec(key), new GCMParameterSpec(TAG_BITS, nonce));
    if (aad != null) {
      cipher.updateAAD(aad);
    }
    cipher.doFinal(plain, 0, plain.length, out, 1 + NONCE_BYTES);
    return out;
  }
}
