# deployer: a small image for the GitHub Action, GitLab CI jobs and `docker run`.
# Alpine keeps it small; the shell is kept because GitLab's Docker executor needs one.
FROM python:3.12-alpine

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY pyproject.toml README.md /src/
COPY deployer /src/deployer
# Install from the source tree and drop it and pip's leftovers: no build tools or caches stay behind.
RUN pip install --no-cache-dir /src \
    && rm -rf /src /root/.cache \
    && deployer --version

COPY entrypoint.sh /usr/local/bin/deployer-entrypoint

# No USER or WORKDIR: GitHub runs the container as root in /github/workspace.
ENTRYPOINT ["/usr/local/bin/deployer-entrypoint"]
CMD ["deploy"]
