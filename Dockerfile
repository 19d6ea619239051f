# Loss Landscape Explorer: CPU-only image for a public server.
#   docker build -t loss-landscape-explorer .
#   docker run --rm -p 8501:8501 loss-landscape-explorer     # then open http://localhost:8501
# Several behind a load balancer with sticky sessions: deploy/ (HAProxy, Kubernetes manifests,
# whose probes use this HEALTHCHECK's path and port: tests/test_deploy.py keeps them equal).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LLE_TORCH_THREADS=1 \
    OMP_NUM_THREADS=1 \
    MKL_NUM_THREADS=1

# glibc malloc: the values app.py also sets at run time (explorer/allocator.py's SETTINGS); here
# they hold from the process's first allocation on
ENV MALLOC_MMAP_THRESHOLD_=8388608 \
    MALLOC_TRIM_THRESHOLD_=16777216 \
    MALLOC_ARENA_MAX=4

WORKDIR /app

# The CPU index serves torch==2.13.0 as 2.13.0+cpu, which pip prefers over PyPI's CUDA build;
# the check fails the build if a CUDA torch slipped in anyway.
COPY requirements.txt .
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt \
    && python -c "import torch; assert torch.version.cuda is None, torch.__version__"

RUN useradd --create-home --uid 10001 app
COPY --chown=app:app .streamlit ./.streamlit
COPY --chown=app:app app.py ./
COPY --chown=app:app app_pages ./app_pages
COPY --chown=app:app explorer ./explorer
USER app

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status != 200)"]
CMD ["python", "-m", "streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0"]
