#!/usr/bin/env bash
# Creates the channel store's database next to Airflow's metadata database.
#
# The postgres image runs /docker-entrypoint-initdb.d/* once, when its data volume is empty.
# The tables are created by `whatsapp-fleet migrate` in the airflow-init service, not here:
# the store owns and versions its schema itself.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<EOSQL
CREATE DATABASE "${WHATSAPP_STORE_DB}" OWNER "${POSTGRES_USER}";
EOSQL
