# One image for every hitstream process (worker, api, migrate); the command picks the role.
# Node 26: the active LTS line ("lithium"), the one every test and bench runs on (infra/setup.sh).
FROM node:26-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: nothing hitstream runs needs an install script, and the tests ran without any
# (npm 11 on our machines does not run them).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY . .
ENV NODE_ENV=production
# Stated, not left to what happens to install: the backend the tests ran.
ENV HITSTREAM_TF_BACKEND=wasm
EXPOSE 8080 9464
ENTRYPOINT []
CMD ["node", "bin/hitstream.js", "--help"]
