"""The operator's view in the Airflow UI: the backup catalog (an Airflow 3 plugin).

``catalog_plugin`` registers it (a FastAPI app, and on Airflow 3.1+ an entry in
the UI's navigation); ``catalog_api`` serves the catalog that ``ue_backup_rpo``
keeps, with Airflow's authentication; ``catalog_page`` renders it as HTML.
Nothing here reaches AWS or Kubernetes: the web server only reads the
metadata database and runs the pure planner (``tests/plugins/test_layers.py``
keeps this package on the pure rules).
"""
