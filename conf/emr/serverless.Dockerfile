# An EMR Serverless application image for `jobs.submit --serverless`: the release's own image with CPython
# 3.11 from the Amazon Linux 2023 repository and the locked dependencies installed from python-deps.tar by
# the clusters' bootstrap script (pip --isolated --no-index --require-hashes): the same files an EMR node
# installs, and nothing fetched from a package index. The job runs' code (migration.zip, the jar, conf.zip)
# comes with each job run, as with a step, so one image serves every commit that shares the lock.
#
#   make package                               # dist/<version>/python-deps.tar
#   docker build --platform linux/amd64 -f conf/emr/serverless.Dockerfile \
#     --build-arg DEPS=dist/<version>/python-deps.tar -t <account>.dkr.ecr.<region>.amazonaws.com/reservation-migration:<lock key> .
#   aws emr-serverless create-application --type SPARK --release-label emr-7.5.0 \
#     --image-configuration imageUri=<that image> --tags application=reservation-migration
ARG RELEASE=emr-7.5.0
FROM public.ecr.aws/emr-serverless/spark/${RELEASE}:latest

USER root
ARG DEPS
COPY bootstrap/install_python_deps.sh /tmp/install_python_deps.sh
COPY ${DEPS} /tmp/python-deps.tar
RUN dnf install -y -q python3.11 python3.11-pip \
 && MIGRATION_PYTHON=/usr/bin/python3.11 bash /tmp/install_python_deps.sh /tmp/python-deps.tar \
 && rm -f /tmp/python-deps.tar /tmp/install_python_deps.sh \
 && dnf clean all
# EMR Serverless runs the image as hadoop
USER hadoop:hadoop
