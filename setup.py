"""One distribution for the EDW reservation migration (jobs, transforms, readers, loaders, pipeline)."""

from __future__ import annotations

from setuptools import find_packages, setup

setup(
    name="edw-reservation-migration",
    version="0.1.0",
    description="PySpark batch job migrating EDW reservation history to DynamoDB and Aurora PostgreSQL",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["jobs", "transforms", "readers", "loaders", "pipeline", "storage", "sample"]),
    package_data={"loaders": ["sql/*.sql"]},
    install_requires=[
        # EMR 7.x ships Spark 3.5; pin the same line locally.
        "pyspark[sql]==3.5.6",
        # pyspark 3.5 is not ready for pandas 3 / numpy 2 (nulls become 'NaN').
        "pandas>=2.0,<3",
        "numpy>=1.24,<2",
        "pyarrow>=14,<26",
        "boto3>=1.34",
        "psycopg[binary]>=3.2,<4",
        # the Aurora load's COPY: Arrow batches to binary COPY in C (Apache Arrow's libpq driver)
        "adbc-driver-postgresql>=1.5,<2",
        "lxml>=5.0",
        "great-expectations>=1.3,<2",
        "cryptography>=42",
        "pyyaml>=6.0",
        "pydantic>=2.6,<3",
    ],
    extras_require={
        "dev": [
            # pytest 9 derives node ids from a structure pytest-xdist 3.8 cannot suffix: its xdist_group marks
            # are then silently ignored and the shared reference run is computed on both workers.
            "pytest>=8,<9",
            "pytest-timeout>=2.3",
            "pytest-xdist>=3.5",
            "chispa>=0.10",
            "moto[server]>=5.0",
            "pyahocorasick>=2.1",  # the leak scan: thousands of guest values in megabytes of output, one pass
            "ruff>=0.6",
            "mypy>=1.10",
        ],
    },
)
