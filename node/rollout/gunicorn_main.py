"""Starts gunicorn for one fleet app: /srv/APP/shared/gunicorn_main.py (copied by prepare.sh).

A file of our own rather than `python -m gunicorn`: on a USR2 re-exec gunicorn runs
sys.argv[0] again as a script, and for `-m gunicorn` that is gunicorn/__main__.py, whose
directory then comes first on sys.path and shadows the standard library (gunicorn/http
hides `http`, and Django fails to import). This file's directory holds no such names.
"""
from gunicorn.app.wsgiapp import run

if __name__ == "__main__":
    run()
