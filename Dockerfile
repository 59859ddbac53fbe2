# Hugging Face Space (sdk: docker, app_port: 8501) or any Docker host: docker build -t tbptt-viz . && docker run -p 8501:8501 tbptt-viz
FROM python:3.11-slim
RUN useradd -m -u 1000 user
USER user
ENV HOME=/home/user PATH=/home/user/.local/bin:$PATH PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
WORKDIR /home/user/app
COPY --chown=user requirements.txt .
# The CPU build of torch keeps the image small (the default Linux wheel bundles CUDA, several GB).
RUN pip install --no-cache-dir --user torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir --user -r requirements.txt
COPY --chown=user . .
EXPOSE 8501
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health')"
CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0", "--server.headless=true"]
