# corrflow in a container: Python 3.11, the pinned requirements.txt and the workflow.
#   docker build -t corrflow .
#   docker run --rm -v "$PWD/data:/work/data" -v "$PWD/docs:/work/docs" corrflow
# The image also holds Snakemake itself, so cloud executors can start each job in it
# (`--container-image`); see "Container and clusters" in docs/operations.md.
FROM python:3.11-slim

# Every pinned package ships a manylinux wheel (numba, pyarrow, scipy included): no compiler.
# HOME, numba's and matplotlib's caches in /tmp so any user id (docker run --user,
# Apptainer) can run it.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    MPLCONFIGDIR=/tmp/matplotlib \
    MPLBACKEND=Agg

WORKDIR /work

# dependencies first: this layer is rebuilt only when requirements.txt changes
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY Snakefile pyproject.toml README.md LICENSE ./
COPY src src
COPY config config
COPY envs envs
COPY profiles profiles
COPY workflow workflow
COPY data/sample data/sample
# the corrflow package and command, from the source tree copied above (its dependencies
# are requirements.txt's)
RUN pip install --no-deps --no-build-isolation -e .
# outputs (data/raw, data/processed, docs, models, logs, .snakemake) are written here
RUN mkdir -p docs models logs && chmod -R a+rwX /work

CMD ["snakemake", "--cores", "2"]
