package migration.time;

import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.catalyst.util.DateTimeUtils;

/**
 * A wall-clock time in a zone named by a column -> the instant (microseconds, UTC): exactly Spark's
 * {@code to_utc_timestamp(ts, zone)}, {@code DateTimeUtils.toUTCTime}, with the zone resolved once per name.
 * With a zone that is a column rather than a literal, Spark resolves it for every value: two regular
 * expressions compiled and a zone-rules look-up per call, the largest single cost of normalizing a version.
 * Same resolution ({@code DateTimeUtils.getZoneId}: an unknown zone throws, as the built-in does), same
 * conversion ({@code convertTz}: a time in a DST gap moves forward, one in an overlap takes the earlier
 * offset). The cache holds the zone names of the property reference, a few hundred at most. Null in, null out.
 */
public final class ToUtc implements UDF2<Long, String, Long> {
  private static final long serialVersionUID = 1L;
  private static final ConcurrentHashMap<String, ZoneId> ZONES = new ConcurrentHashMap<>();

  @Override
  public Long call(Long localMicros, String zone) {
    if (localMicros == null || zone == null) {
      return null;
    }
    ZoneId zoneId = ZONES.get(zone);
    if (zoneId == null) {
      zoneId = DateTimeUtils.getZoneId(zone);
      ZONES.putIfAbsent(zone, zoneId);
    }
    return DateTimeUtils.convertTz(localMicros, zoneId, ZoneOffset.UTC);
  }
}
