# The Airflow image for docker-compose.yaml: Apache Airflow's own image plus this provider.
#
# The tag must name the same Airflow as requirements.txt (apache-airflow==3.3.2): the provider
# is tested against that version only, and tests/deploy/test_compose.py checks they agree.
FROM apache/airflow:3.3.2-python3.11

# Installing as the image's airflow user, as its documentation asks (never as root).
USER airflow
WORKDIR /opt/airflow

# Dependencies first, in their own layer: a code change does not reinstall them. The same pins
# (requirements.txt) and transitive locks (constraints.txt) as `make install`.
COPY --chown=airflow:0 requirements.txt constraints.txt /opt/airflow/build/
RUN pip install --no-cache-dir "apache-airflow==3.3.2" \
        -r /opt/airflow/build/requirements.txt -c /opt/airflow/build/constraints.txt

# The provider itself: its dependencies are already there, so --no-deps keeps pip from
# resolving again against PyPI. It registers the plugin through its entry point, which is why
# nothing is copied to /opt/airflow/plugins (the plugin would otherwise load twice).
COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow/build/
COPY --chown=airflow:0 plugins/ /opt/airflow/build/plugins/
RUN pip install --no-cache-dir --no-deps /opt/airflow/build

# DAGs are baked in so the image runs on its own (Kubernetes, ECS...); docker-compose.yaml
# mounts ./dags over them for development. include/ holds the Graph API simulator
# (`python -m include.graph_simulator`, the compose profile "simulator").
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 include/ /opt/airflow/include/
