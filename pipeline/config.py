"""Configuration: conf/base.yaml <- conf/<env>.yaml <- --conf-file <- --set, validated into a frozen value.

Loaded once by a job's ``main`` and passed down. Any problem raises :class:`ConfigError` whose message is
one line naming the key; jobs turn it into exit code 2. The models are in :mod:`pipeline.config_model`.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline.config_model import (
    CONF_DIR,
    Config,
    ConfigError,
    DatePartitionConfig,
    EmrConfig,
    PiiConfig,
    RulesConfig,
    SourceConfig,
)

__all__ = [
    "CONF_DIR",
    "Config",
    "ConfigError",
    "DatePartitionConfig",
    "EmrConfig",
    "PiiConfig",
    "RulesConfig",
    "SourceConfig",
    "apply_override",
    "deep_merge",
    "interpolate",
    "load_config",
    "load_raw",
    "redact",
]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_PREFIXES = ("secret:", "ssm:", "kms:")

SecretResolver = Callable[[str], str]


def load_config(
    env: str,
    *,
    conf_file: str | None = None,
    overrides: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    resolve_secret: SecretResolver | None = None,
    conf_dir: Path = CONF_DIR,
    secrets: Collection[str] | None = None,
) -> tuple[Config, dict[str, Any]]:
    """Return the validated config and a redacted plain copy for the manifest. ``secrets``: the only keys
    whose secret references are resolved (a tool that needs a few of them and may read no other); the others
    hold a placeholder. By default every secret is resolved but the support tool's (``pii_support.*``: the
    job's role may not read them, and the job has no use for them)."""
    raw = load_raw(env, conf_file=conf_file, overrides=overrides, conf_dir=conf_dir)
    interpolated = interpolate(raw, os.environ if environ is None else environ, path="")
    redacted = redact(interpolated)
    if env != "local":
        _require_production_safety(interpolated)
    # A mistake anywhere is named before any secret is fetched (no AWS call for a typo).
    _validated(_resolve_secrets(interpolated, lambda ref: _PLACEHOLDER_SECRET, path=""), env)
    if secrets is None:
        secrets = sorted(k for k in _secret_paths(interpolated) if not k.startswith("pii_support."))
    resolved = _resolve_secrets(interpolated, resolve_secret or aws_secret_resolver, path="", only=secrets)
    return _validated(resolved, env), redacted


_PLACEHOLDER_SECRET = base64.b64encode(bytes(32)).decode("ascii")


def _validated(resolved: dict[str, Any], env: str) -> Config:
    try:
        return Config.model_validate({**resolved, "env": env})
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None


def load_raw(
    env: str, *, conf_file: str | None = None, overrides: Sequence[str] = (), conf_dir: Path = CONF_DIR
) -> dict[str, Any]:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", env or ""):
        raise ConfigError(f"--env: invalid environment name {env!r}")
    env_file = conf_dir / f"{env}.yaml"
    if not env_file.is_file():
        known = sorted(p.stem for p in conf_dir.glob("*.yaml") if p.stem != "base")
        raise ConfigError(f"--env: unknown environment {env!r} (known: {', '.join(known)})")
    merged = _read_yaml(conf_dir / "base.yaml")
    merged = deep_merge(merged, _read_yaml(env_file))
    if conf_file:
        merged = deep_merge(merged, _read_yaml(Path(conf_file)))
    for item in overrides:
        merged = apply_override(merged, item)
    return merged


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_override(cfg: Mapping[str, Any], item: str) -> dict[str, Any]:
    """``key.path=value``; the value is read as a YAML scalar, so numbers and booleans are typed."""
    if "=" not in item:
        raise ConfigError(f"--set: expected key.path=value, got {item!r}")
    dotted, text = item.split("=", 1)
    keys = dotted.strip().split(".")
    if not all(keys):
        raise ConfigError(f"--set: bad key path {dotted!r}")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    # spark.conf.<key> keeps the rest of the dotted path as one Spark conf key.
    if len(keys) > 2 and keys[0] == "spark" and keys[1] == "conf":
        keys = ["spark", "conf", ".".join(keys[2:])]
        value = text
    patch: dict[str, Any] = {keys[-1]: value}
    for key in reversed(keys[:-1]):
        patch = {key: patch}
    return deep_merge(cfg, patch)


def redact(value: Any, path: str = "") -> Any:
    """Copy for the manifest: secrets keep their reference, literal secrets become '***'."""
    if isinstance(value, Mapping):
        return {k: redact(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, str) and _is_secret_key(path) and not value.startswith(_SECRET_PREFIXES):
        return "***"
    return value


def _require_production_safety(cfg: Mapping[str, Any]) -> None:
    """Outside the local env: secrets are references (never literals in a file or on a command line) and
    the database connection is encrypted."""
    for path in sorted(_SECRET_KEYS):
        section, key = path.split(".")
        value = (cfg.get(section) or {}).get(key)
        if isinstance(value, str) and not value.startswith(_SECRET_PREFIXES):
            raise ConfigError(f"{path}: must be a secret:NAME or ssm:/path reference outside the local env")
    pii = cfg.get("pii") or {}
    if pii.get("data_key") is not None:
        raise ConfigError("pii.data_key: a development key, local env only (set pii.kms_key_id)")
    if not pii.get("kms_key_id"):
        raise ConfigError("pii.kms_key_id: missing (guest data is encrypted under a KMS data key outside local)")
    sslmode = (cfg.get("aurora") or {}).get("sslmode")
    if sslmode not in ("require", "verify-ca", "verify-full"):
        raise ConfigError(f"aurora.sslmode: {sslmode!r} outside the local env (require, verify-ca or verify-full)")


_SECRET_KEYS = frozenset(
    {"aurora.password", "aurora.dsn", "pii.hmac_key", "pii.data_key", "pii_support.aurora_password"}
)


def _is_secret_key(path: str) -> bool:
    return path in _SECRET_KEYS


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"--conf-file: no such file {str(path)!r}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def interpolate(value: Any, environ: Mapping[str, str], path: str) -> Any:
    """``${VAR}`` in every string of ``value`` replaced from ``environ`` (a missing one names ``path``)."""
    if isinstance(value, Mapping):
        return {k: interpolate(v, environ, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                raise ConfigError(f"{path}: environment variable {name} is not set")
            return environ[name]

        return _ENV_REF.sub(repl, value)
    return value


def _secret_paths(value: Any, path: str = "") -> list[str]:
    """The key paths whose values are secret references."""
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in _secret_paths(v, f"{path}.{k}" if path else str(k))]
    return [path] if isinstance(value, str) and value.startswith(_SECRET_PREFIXES) else []


def _resolve_secrets(value: Any, resolver: SecretResolver, path: str, only: Collection[str] | None = None) -> Any:
    if isinstance(value, Mapping):
        return {k: _resolve_secrets(v, resolver, f"{path}.{k}" if path else str(k), only) for k, v in value.items()}
    if isinstance(value, str) and value.startswith(_SECRET_PREFIXES):
        if only is not None and path not in only:
            return _PLACEHOLDER_SECRET  # never fetched
        try:
            return resolver(value)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        except Exception as exc:
            raise ConfigError(f"{path}: cannot resolve {value} ({type(exc).__name__})") from None
    return value


def aws_secret_resolver(ref: str) -> str:
    """Resolve ``secret:NAME`` (Secrets Manager), ``secret:NAME#field`` (one field of a JSON secret, as RDS
    keeps a database's credentials: ``{"username": ..., "password": ...}``) and ``ssm:/path`` (Parameter Store,
    decrypted)."""
    import boto3

    if ref.startswith("secret:"):
        name, _, field = ref[len("secret:") :].partition("#")
        client = boto3.client("secretsmanager")
        text = str(client.get_secret_value(SecretId=name)["SecretString"])
        if not field:
            return text
        try:
            value = json.loads(text)[field]
        except (ValueError, TypeError, KeyError):
            raise ConfigError(f"{ref}: not a JSON object with a {field!r} field") from None
        return str(value)
    if ref.startswith("ssm:"):
        client = boto3.client("ssm")
        return str(client.get_parameter(Name=ref[len("ssm:") :], WithDecryption=True)["Parameter"]["Value"])
    raise ConfigError(f"unsupported secret reference scheme in {ref.split(':', 1)[0]}:")


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "config"
    kind = err["type"]
    if kind == "missing":
        return f"{loc}: missing required key"
    if kind == "extra_forbidden":
        return f"{loc}: unknown key"
    msg = err["msg"].replace("Value error, ", "")
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{loc}: {msg}{more}"
