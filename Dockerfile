FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY statemachines statemachines
COPY disclosure disclosure
COPY api api
COPY docs docs
RUN pip install --no-cache-dir .
ENV DISCLOSURE_DATABASE_URL=sqlite+aiosqlite:////data/disclosure.db
EXPOSE 8000
CMD ["disclosure", "serve", "--host", "0.0.0.0", "--port", "8000"]
