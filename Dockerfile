# One image for every hitstream process (worker, api, migrate); the command picks the role.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: what npm 11 does on our machines, where the tests run. node:20's npm 10 would
# run install scripts, and nothing hitstream runs needs one.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY . .
ENV NODE_ENV=production
# Stated, not left to what happens to install: the backend the tests ran.
ENV HITSTREAM_TF_BACKEND=wasm
EXPOSE 8080 9464
ENTRYPOINT []
CMD ["node", "bin/hitstream.js", "--help"]
