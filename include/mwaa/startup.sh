#!/bin/sh
# Amazon MWAA startup script for ue-backup (upload to the environment's bucket, e.g.
# s3://BUCKET/startup.sh, and name it as the environment's startup script with its S3 object
# version). MWAA runs it on every Airflow component before Airflow starts; what it exports is
# in the environment of the DAG processor, the scheduler, the workers and the triggerer.
#
# Where the installation's configuration comes from (see "Deploying on Amazon MWAA" in the
# README); choose one:
#   file      a YAML file uploaded with the DAGs, to s3://BUCKET/dags/ue_backup_config/installation.yaml
#             (MWAA copies the DAGs folder to /usr/local/airflow/dags). The DAG files read it
#             at parse time for the backup schedule; the tasks read it at run time.
#   variable  the Airflow Variable ue_backup_config (JSON), e.g. from AWS Secrets Manager
#             through the secrets backend; read at run time only, so ue_backup has no schedule.
UE_BACKUP_CONFIG_SOURCE="${UE_BACKUP_CONFIG_SOURCE:-file}"

case "$UE_BACKUP_CONFIG_SOURCE" in
  file)
    export UE_BACKUP_CONFIG_FILE="${AIRFLOW_HOME:-/usr/local/airflow}/dags/ue_backup_config/installation.yaml"
    ;;
  variable)
    unset UE_BACKUP_CONFIG_FILE
    ;;
  *)
    # MWAA sources this script: report, but do not exit the component's shell.
    echo "ue-backup startup: UE_BACKUP_CONFIG_SOURCE must be 'file' or 'variable'" >&2
    ;;
esac
echo "ue-backup startup on ${MWAA_AIRFLOW_COMPONENT:-unknown component}: configuration from $UE_BACKUP_CONFIG_SOURCE ${UE_BACKUP_CONFIG_FILE:-}"
