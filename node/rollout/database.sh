#!/bin/sh
# database.sh ENGINE DATABASE HOST PORT   (stdin: master user, master password, app password; one a line)
#
# Creates, idempotently, the app's database and its login role on the managed database,
# from one node, with the master credentials; a rerun resets the app role's password to
# the one given (so a rotated Pulumi secret takes effect). Credentials arrive on stdin only
# and reach psql through its environment, never an argument. ENGINE: postgres | mysql.
set -eu
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"

[ $# -eq 4 ] || die "usage: database.sh ENGINE DATABASE HOST PORT"
engine=$1
# The app's database, also the name of its role, as the plan derived it (config/identity.ts).
check_database "$2"
check_host "$3" "database host"
check_arg "database port" "$4" '[0-9]{2,5}'
dbname=$2 host=$3 port=$4

IFS= read -r master_user || die "stdin: the master user is missing"
IFS= read -r master_password || die "stdin: the master password is missing"
IFS= read -r app_password || die "stdin: the app password is missing"
# Never the master: an app role that were the master would get its password and its rights.
[ "$master_user" != "$dbname" ] || die "the app's role $dbname is the master user: set fleet:database.masterUsername to another name"
# The app password is generated (letters and digits): anything else is refused rather than
# quoted, and the message never repeats it.
case $app_password in
  '' | *[!A-Za-z0-9]*) die "stdin: the app password must be letters and digits only" ;;
esac

postgres() {
  PGPASSWORD=$master_password FLEET_APP_PASSWORD=$app_password PGCONNECT_TIMEOUT=15 PGOPTIONS="-c client_min_messages=warning" \
    psql -X -q -v ON_ERROR_STOP=1 -v "role=$dbname" -h "$host" -p "$port" -U "$master_user" -d postgres <<'SQL'
\getenv app_password FLEET_APP_PASSWORD
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION', :'role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
-- An existing role with more than an app's rights is not the app's: refuse rather than hand it over.
SELECT format('DO $fleet$ BEGIN RAISE EXCEPTION %L; END $fleet$', format('role %s exists with SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS: it is not an app role (drop or rename it)', rolname))
  FROM pg_roles WHERE rolname = :'role' AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls) \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'role', :'app_password') \gexec
-- On RDS the master user is no superuser: it must be a member of the role it makes owner.
SELECT format('GRANT %I TO %I', :'role', current_user) \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'role', :'role') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'role') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'role') \gexec
SQL
}

# What a Django app does to its own database (migrations included). Not ALL PRIVILEGES: a
# grantor must hold every privilege it grants, and RDS's master user does not hold all of
# them (on RDS for MariaDB it lacks DELETE HISTORY), so GRANT ALL is refused there.
mysql_app_privileges="SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, REFERENCES, INDEX, ALTER, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EVENT, TRIGGER"

mysql_db() {
  defaults=$(mktemp)
  trap 'rm -f "$defaults"' EXIT
  chmod 0600 "$defaults"
  printf '[client]\nuser=%s\npassword=%s\n' "$master_user" "$master_password" >"$defaults"
  mysql --defaults-extra-file="$defaults" -h "$host" -P "$port" <<SQL
CREATE DATABASE IF NOT EXISTS \`$dbname\`;
CREATE USER IF NOT EXISTS '$dbname'@'%' IDENTIFIED BY '$app_password';
ALTER USER '$dbname'@'%' IDENTIFIED BY '$app_password';
GRANT $mysql_app_privileges ON \`$dbname\`.* TO '$dbname'@'%';
SQL
}

case $engine in
  postgres) postgres ;;
  mysql) mysql_db ;;
  *) die "database engine '$engine' is not supported (allowed: postgres, mysql)" ;;
esac
log "database $dbname and its role are ready on $host:$port"
