# The run's environment, set before anything else is read: why this file exists.
#
# 1. Snakemake imports the alpacaflow package from this checkout (common.smk
#    validates the config with it), and every job runs `python -m alpacaflow`:
#    the package must come from here, whatever is installed, and jobs need
#    the right `python` and the Hugging Face cache. Those are side effects on
#    this process (sys.path) and on every job's shell (shell.prefix).
# 2. Whether this run was started with --keep-going decides the annotate jobs
#    (one for all pairs, or one per pair); Snakemake sets its execution
#    settings only after reading the Snakefile, so the command line is read
#    here with Snakemake's own parser, and the answer is passed to every job
#    (also on a cluster) through the environment.
import contextlib
import io
import os
import shlex
import sys
from pathlib import Path

from snakemake.settings.types import DeploymentMethod

SCRIPTS_DIR = str(Path(workflow.basedir) / "scripts")
sys.path.insert(0, SCRIPTS_DIR)
# Every job (local, conda or cluster) imports the alpacaflow package from this
# checkout, whatever is installed; bash strict mode as Snakemake's default.
# Without conda envs, jobs run `python` from the folder of the interpreter that
# runs Snakemake (a venv's, also when `.venv/bin/snakemake` is called without
# activating it); with --sdm conda, each rule's env provides python.
# The weights cache (hf_home) is where download_model puts snapshots; it is
# exported for every job, not a param: moving it reruns nothing.
USES_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
JOB_PATH = f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:$PATH; "
JOB_HF_HOME = (
    f"export HF_HOME={shlex.quote(config['hf_home'])}; "
    if config.get("hf_home")
    else ""
)
shell.prefix(
    "set -euo pipefail; "
    + ("" if USES_CONDA else JOB_PATH)
    + f"export PYTHONPATH={shlex.quote(SCRIPTS_DIR)}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; "
    + JOB_HF_HOME
)

# The judge is loaded once per run: one annotate job judges every model (one
# engine, started only when a pair is not in the caches). Snakemake starts a job
# only when all its inputs exist, so under --keep-going one model's failed
# generate would hold back every judgment; there each model gets its own
# annotate job (and judge load) instead. The choice goes to cluster jobs
# through the environment, since they re-read the Snakefile without --keep-going.


def keep_going():
    """Whether this run was started with --keep-going (on the command line or in a profile).

    Snakemake sets its execution settings only after reading the Snakefile,
    so the main process reads its command line with Snakemake's own parser;
    its jobs (also on a cluster) inherit the answer through the environment.
    """
    key = "ALPACAFLOW_ANNOTATE_PER_MODEL"
    if key not in os.environ:
        from snakemake.cli import parse_args

        try:
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                going = bool(parse_args(sys.argv[1:])[1].keep_going)
        except (Exception, SystemExit):
            going = False
        os.environ[key] = "1" if going else "0"
    return os.environ[key] == "1"


ANNOTATE_PER_MODEL = keep_going()
