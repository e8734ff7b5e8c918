"""Settings of the classifier's case project: one app per case, the database from CASES_DATABASE
(a SQLite file, a PostgreSQL socket directory, or mysql:SOCKET for MariaDB)."""
import os

SECRET_KEY = "classifier-cases-only"
INSTALLED_APPS = sorted(name for name in os.listdir(os.path.dirname(os.path.dirname(__file__))) if name.startswith("case_"))
_db = os.environ["CASES_DATABASE"]
if _db.startswith("mysql:"):
    DATABASES = {"default": {"ENGINE": "django.db.backends.mysql", "NAME": "cases", "USER": "root", "OPTIONS": {"unix_socket": _db[len("mysql:"):], "charset": "utf8mb4"}}}
elif _db.startswith("/") and os.path.isdir(_db):
    DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "cases", "USER": "postgres", "HOST": _db, "PORT": os.environ.get("CASES_PORT", "5432")}}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _db}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
