# deployer: a small image for the GitHub Action, GitLab CI jobs and `docker run`.
# Alpine keeps it small; the shell is kept because GitLab's Docker executor needs one.

# Build stage: the source tree and pip's work stay here, out of the final image's layers.
FROM python:3.12-alpine AS build
COPY pyproject.toml README.md /src/
COPY deployer /src/deployer
RUN pip install --no-cache-dir --no-warn-script-location --prefix=/install /src

FROM python:3.12-alpine
# GHCR links the package to its repository by this label (and shows the description and licence).
LABEL org.opencontainers.image.source="https://github.com/deployer-dev/deployer" \
      org.opencontainers.image.description="Deploy to Coolify or Dokploy from CI, follow the deployment to its end, and fail when it fails." \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.title="deployer"
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The installed packages with their compiled bytecode (a faster start on every CI run): about 15 MB.
COPY --from=build /install /usr/local
RUN deployer --version && deployer-entrypoint --version

# No USER or WORKDIR: GitHub runs the container as root in /github/workspace.
# No shell script in between: busybox ash would drop the hyphenated INPUT_* variables.
ENTRYPOINT ["deployer-entrypoint"]
CMD ["deploy"]
