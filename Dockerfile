# One image for every hitstream process (worker, api, migrate); the command picks the role.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
ENV NODE_ENV=production
EXPOSE 8080 9464
ENTRYPOINT []
CMD ["node", "bin/hitstream.js", "--help"]
