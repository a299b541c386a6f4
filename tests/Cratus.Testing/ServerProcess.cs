using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Cratus.Randomization.Server.Security;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace Cratus.Testing;

/// <summary>
/// The server as its own operating-system process (the built Cratus.Randomization.Server.dll), on a free loopback
/// port, configured through environment variables as a deployment would be. Killed when disposed.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    /// <summary>Settings for server processes of one test: fresh keys, a copy of the Phase II-only definition with
    /// its target raised, logs in <paramref name="folder"/>, and a rate limit no load test reaches.</summary>
    public sealed class Deployment(string folder, int targetParticipants)
    {
        private readonly string _signingKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(48));
        private readonly string _sealingKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        private readonly string _headSigningKey = TrialServer.NewHeadSigningKey();

        public Dictionary<string, string> Settings(string node, IReadOnlyDictionary<string, string> database)
        {
            var definitionPath = Path.Combine(folder, "trial.json");
            File.WriteAllText(definitionPath, File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "trial-definitions", "cratus-phase2-only.json"))
                .Replace("\"targetParticipants\": 30", $"\"targetParticipants\": {targetParticipants}", StringComparison.Ordinal));
            var settings = new Dictionary<string, string>(database)
            {
                ["Token:Issuer"] = "cratus-process-tests",
                ["Token:SigningKey"] = _signingKey,
                ["Encryption:ActiveKeyId"] = "k1",
                ["Encryption:Keys:k1"] = _sealingKey,
                ["Identity:BootstrapSecret"] = "process-tests-bootstrap-secret",
                ["Audit:HeadSigningKey"] = _headSigningKey,
                ["Trial:DefinitionPath"] = definitionPath,
                ["Logging:FilePath"] = Path.Combine(folder, node, "cratus-.json"),
                ["Limits:PermitsPerSecond"] = "100000",
                ["Limits:Burst"] = "100000",
            };
            return settings;
        }

        public string Token(TrialRole role, params string[] sites)
        {
            var claims = new List<System.Security.Claims.Claim>
            {
                new("sub", "process-" + TrialRoles.ClaimValue(role)), new("role", TrialRoles.ClaimValue(role)),
            };
            claims.AddRange(sites.Select(s => new System.Security.Claims.Claim("site", s)));
            return new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
            {
                Issuer = "cratus-process-tests",
                Audience = "cratus-randomization",
                Subject = new System.Security.Claims.ClaimsIdentity(claims),
                Expires = DateTime.UtcNow.AddMinutes(30),
                SigningCredentials = new Microsoft.IdentityModel.Tokens.SigningCredentials(
                    new Microsoft.IdentityModel.Tokens.SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(_signingKey)),
                    Microsoft.IdentityModel.Tokens.SecurityAlgorithms.HmacSha256),
            });
        }
    }

    private readonly Process _process;
    public string Address { get; }

    private ServerProcess(Process process, string address)
    {
        _process = process;
        Address = address;
    }

    public static async Task<ServerProcess> StartAsync(IReadOnlyDictionary<string, string> settings, TimeSpan? startLimit = null)
    {
        var port = FreePort();
        var address = $"http://127.0.0.1:{port}";
        var start = new ProcessStartInfo("dotnet", Path.Combine(AppContext.BaseDirectory, "Cratus.Randomization.Server.dll"))
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Testing";
        start.Environment["Kestrel__Endpoints__Grpc__Url"] = address;
        foreach (var (key, value) in settings) start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException("the server process did not start");
        var server = new ServerProcess(process, address);
        process.OutputDataReceived += (_, line) => server.Keep(line.Data);
        process.ErrorDataReceived += (_, line) => server.Keep(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server.WaitUntilServingAsync(startLimit ?? TimeSpan.FromSeconds(60));
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    // The last lines the process wrote, to say why it did not start.
    private readonly Queue<string> _lastLines = new();

    private void Keep(string? line)
    {
        if (line is null) return;
        lock (_lastLines)
        {
            _lastLines.Enqueue(line);
            if (_lastLines.Count > 40) _lastLines.Dequeue();
        }
    }

    private string LastLines()
    {
        lock (_lastLines) return string.Join(Environment.NewLine, _lastLines);
    }

    private async Task WaitUntilServingAsync(TimeSpan limit)
    {
        using var channel = GrpcChannel.ForAddress(Address);
        var health = new Health.HealthClient(channel);
        var until = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < until)
        {
            if (_process.HasExited) throw new InvalidOperationException($"the server at {Address} exited with code {_process.ExitCode}:{Environment.NewLine}{LastLines()}");
            try
            {
                var reply = await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2));
                if (reply.Status == HealthCheckResponse.Types.ServingStatus.Serving) return;
            }
            catch (global::Grpc.Core.RpcException)
            {
                // Not listening yet.
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"the server at {Address} did not serve within {limit}:{Environment.NewLine}{LastLines()}");
    }

    public global::Grpc.Core.CallInvoker Channel(string token) => RequestIds.Fill(GrpcChannel.ForAddress(Address, new GrpcChannelOptions
    {
        HttpHandler = new BearerHandler(token, new SocketsHttpHandler { EnableMultipleHttp2Connections = true }),
    }));

    private bool _disposed;

    /// <summary>Kills the process (SIGKILL on Unix): no shutdown, no flush, as a crash or a pulled plug would.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class BearerHandler(string token, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
