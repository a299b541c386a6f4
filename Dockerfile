# The randomization service and its command-line client, built from source in a .NET SDK image and run on the
# smaller ASP.NET Core runtime image as a non-root user.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Cratus.Randomization.Server -c Release -o /out/server \
 && dotnet publish src/Cratus.Cli -c Release -o /out/cli

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /out/server ./
COPY --from=build /out/cli ./cli/
# The server writes its rolling log under logs/; the image's built-in non-root user owns that folder only.
RUN mkdir -p /app/logs && chown app /app/logs
USER app
ENV ASPNETCORE_ENVIRONMENT=Production \
    Kestrel__Endpoints__Grpc__Url=http://0.0.0.0:8080 \
    Kestrel__Endpoints__Web__Url=http://0.0.0.0:8081
EXPOSE 8080 8081
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=5 \
  CMD ["dotnet", "/app/cli/cratus.dll", "health", "--server", "http://127.0.0.1:8080"]
ENTRYPOINT ["dotnet", "Cratus.Randomization.Server.dll"]
