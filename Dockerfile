# Loam API / worker image. The same image runs `loam api` or `loam worker` (see docker-compose.yml).
FROM node:22-bookworm-slim
WORKDIR /app
# openssl makes each project's SAML service provider certificate (server/src/auth/saml-keys.ts).
RUN apt-get update && apt-get install -y --no-install-recommends openssl && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
# The web console (npm ci ran before the sources were here, so its `prepare` step had nothing to build).
RUN npm run build:console
ENV NODE_ENV=production PORT=8000
EXPOSE 8000
ENTRYPOINT ["node", "server/bin/loam.ts"]
CMD ["start"]
