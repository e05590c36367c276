# netaudit as a container, for the scheduled audit (deploy/cronjob.yaml) or `docker run`.
#   docker build -t netaudit:0.1.0 .
#   docker run --rm -v ~/.kube:/kube:ro -e KUBECONFIG=/kube/config netaudit:0.1.0 check
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY auditor ./auditor
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
# Runs as nobody, with a read-only root filesystem in the CronJob: netaudit writes nothing locally.
USER 65534:65534
ENTRYPOINT ["netaudit"]
CMD ["--help"]
