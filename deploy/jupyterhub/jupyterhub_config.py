"""JupyterHub for a class on one machine: students log in with the class
password and each gets a Jupyter server in their own home folder, holding
their own copies of the student lessons (lessons/student/, copied at their
first start and never overwritten after).

    export PUFFER_HUB_PASSWORD='a long class password'
    .venv/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

Then open http://127.0.0.1:8000 and log in with any user name and that
password. Settings, by environment variable (defaults for one machine):

    PUFFER_HUB_PASSWORD       the class password (required, 8 characters or more)
    PUFFER_HUB_IP / _PORT     where students connect: 127.0.0.1 / 8000
    PUFFER_HUB_HUB_PORT       the hub's own port, 8081; PUFFER_HUB_PROXY_API_PORT, 8001
    PUFFER_HUB_HOMES          the students' home folders: ./hub-homes
    PUFFER_HUB_STATE          the hub's database, cookie secret and pid file: ./hub-state
    PUFFER_HUB_API_TOKEN      if set, a service token with admin rights (scripts, the smoke test)

The local process spawner runs every student's server as the hub's own
user: the homes differ, but students are not isolated from each other (or
from the machine). For a real class use JupyterHub's SystemdSpawner or
DockerSpawner (one Unix user or container per student) and keep the rest;
tests/test_classroom_hub.py runs this file as it is.
"""
import os
import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub defines get_config)
BIN = Path(sys.executable).parent  # the venv that runs the hub runs the students' servers too
LESSONS = Path(__file__).resolve().parents[2] / "lessons" / "student"
HOMES = Path(os.environ.get("PUFFER_HUB_HOMES", "hub-homes")).resolve()
STATE = Path(os.environ.get("PUFFER_HUB_STATE", "hub-state")).resolve()
STATE.mkdir(parents=True, exist_ok=True)

c.JupyterHub.ip = os.environ.get("PUFFER_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("PUFFER_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("PUFFER_HUB_HUB_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('PUFFER_HUB_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [str(BIN / "configurable-http-proxy")]  # the Python proxy: no Node.js
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")

# Log in: any name, the class password.
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ["PUFFER_HUB_PASSWORD"]
c.Authenticator.allow_all = True

# Each student's server: a process of this venv in their own home, opening lesson 0.
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(HOMES / "{username}")
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab/tree/lessons/00_quickstart.ipynb"
c.Spawner.environment = {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"}
if os.geteuid() == 0:
    c.Spawner.args = ["--allow-root"]  # the server refuses root without it (the hub shows only a 500)


def copy_lessons(spawner):
    """The student's own copies of the lessons, made once: their work is never overwritten."""
    target = Path(spawner.home_dir) / "lessons"
    if not target.exists():
        shutil.copytree(LESSONS, target)


c.Spawner.pre_spawn_hook = copy_lessons

if os.environ.get("PUFFER_HUB_API_TOKEN"):
    c.JupyterHub.services = [{"name": "class-admin", "api_token": os.environ["PUFFER_HUB_API_TOKEN"]}]
    c.JupyterHub.load_roles = [{"name": "class-admin", "services": ["class-admin"],
                                "scopes": ["admin:users", "admin:servers", "access:servers"]}]
