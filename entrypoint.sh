#!/bin/sh
# One image, three callers:
#   GitHub Docker action: no arguments, so CMD ["deploy"] arrives and the inputs come as INPUT_*;
#   GitLab CI: hands the image a shell command (sh -c ...), which is run as given;
#   docker run IMAGE deploy --uuid ...: deployer's own arguments.
set -e
case "${1:-}" in
  ""|-*|deploy|demo|plan|status|cancel|help) exec deployer "$@" ;;
esac
if command -v "$1" >/dev/null 2>&1; then
  exec "$@"
fi
exec deployer "$@"
