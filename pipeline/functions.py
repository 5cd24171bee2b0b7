"""The job's JVM functions in a session (``jobs.jars`` builds them into one jar: ``spark.jars`` locally,
``--jars`` on EMR): the guest seal (:mod:`pipeline.seal`) and the wall-time -> UTC conversion the normalize
step calls by name (:data:`transforms.functions.TO_UTC_FUNCTION`).

    register_functions(spark)  # once per session, before any transform (a missing jar fails here)
"""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from pipeline.seal import register_seal
from transforms.functions import TO_UTC_FUNCTION

TO_UTC_CLASS = "migration.time.ToUtc"


def register_functions(spark: SparkSession) -> None:
    """Make the job's JVM functions callable in this session (idempotent); ``SealUnavailableError`` when the
    jar is not on the classpath."""
    register_seal(spark)  # first: it names a missing jar in one line
    spark.udf.registerJavaFunction(TO_UTC_FUNCTION, TO_UTC_CLASS, T.LongType())
