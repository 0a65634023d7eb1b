# The Airflow image that runs ue-backup: the official apache/airflow image for the Airflow
# version and Python (3.11) this project pins and tests, plus the project's pinned requirements.
#
#   docker build -t ue-backup-airflow .                   the runtime image (the last stage)
#   docker build --target sandbox -t ue-backup-sandbox .  plus moto, for the local sandbox only
#
# Nothing of the project itself is copied: docker-compose.yaml mounts dags/, plugins/,
# include/ and config/ (a Kubernetes deployment brings them with git-sync or a DAG bundle).
# No secret is baked in: connections and credentials come from the environment at run time.
# The FROM tag must name the apache-airflow version pinned in requirements.txt
# (tests/test_compose.py checks it).

FROM apache/airflow:3.3.2-python3.11 AS airflow
USER airflow
COPY --chown=airflow:0 requirements.txt constraints.txt /opt/ue-backup/
# requirements.txt pins apache-airflow itself, so the image's Airflow is never up- or downgraded;
# constraints.txt is the lock the test suite ran with.
RUN pip install --no-cache-dir \
        -r /opt/ue-backup/requirements.txt \
        -c /opt/ue-backup/constraints.txt

# The emulated AWS and Kubernetes of sandbox/ (docker compose profile "sandbox").
FROM airflow AS sandbox
COPY --chown=airflow:0 requirements-dev.txt /opt/ue-backup/
RUN pip install --no-cache-dir \
        -r /opt/ue-backup/requirements-dev.txt \
        -c /opt/ue-backup/constraints.txt

# The default target: the runtime image, without the sandbox's packages.
FROM airflow AS runtime
