using System.Diagnostics;
using Cratus.Randomization.Server.Security;
using Grpc.Health.V1;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;

namespace Cratus.Testing;

/// <summary>
/// The server as its own operating-system process (the built Cratus.Randomization.Server.dll), on a free loopback
/// port, configured through environment variables as a deployment would be. Killed when disposed.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    /// <summary>Settings for server processes of one test: fresh keys (<see cref="TestSecrets"/>), a copy of the
    /// Phase II-only definition with its target raised, logs in <paramref name="folder"/>, and a rate limit no load test reaches.</summary>
    public sealed class Deployment(string folder, int targetParticipants)
    {
        public TestSecrets Secrets { get; } = new();

        public Dictionary<string, string> Settings(string node, IReadOnlyDictionary<string, string> database)
        {
            var settings = Secrets.Settings();
            foreach (var (key, value) in database) settings[key] = value;
            settings["Trial:DefinitionPath"] = TestSecrets.WriteDefinition(Path.Combine(folder, "trial.json"), "cratus-phase2-only.json",
                [("\"targetParticipants\": 30", $"\"targetParticipants\": {targetParticipants}")]);
            settings["Logging:FilePath"] = Path.Combine(folder, node, "cratus-.json");
            return settings;
        }
    }

    private readonly Process _process;
    private readonly IReadOnlyDictionary<string, string> _settings;
    public string Address { get; }

    private ServerProcess(Process process, string address, IReadOnlyDictionary<string, string> settings)
    {
        _process = process;
        Address = address;
        _settings = settings;
    }

    /// <summary>Starts the server and waits until it answers gRPC health with SERVING; a server that exits or does not
    /// serve within <paramref name="startLimit"/> (60 s) is stopped, and the exception says what it last wrote.</summary>
    /// <param name="settings">Configuration settings (as <c>Section:Key</c>), given as environment variables.</param>
    /// <param name="environment">ASPNETCORE_ENVIRONMENT.</param>
    /// <param name="workingDirectory">Where it is started from: the application's folder unless given.</param>
    public static async Task<ServerProcess> StartAsync(IReadOnlyDictionary<string, string> settings, TimeSpan? startLimit = null,
        string environment = "Testing", string? workingDirectory = null)
    {
        // A free port is only free until someone binds it: another process on a busy machine may take it between our
        // look and the server's bind. Such a server exits saying so, and starts again on another port.
        for (var attempt = 1; ; attempt++)
        {
            var address = $"http://127.0.0.1:{Loopback.FreePort()}";
            var process = Process.Start(StartInfo(settings, address, environment, workingDirectory)) ?? throw new InvalidOperationException("the server process did not start");
            var server = new ServerProcess(process, address, settings);
            process.OutputDataReceived += (_, line) => server.Keep(line.Data);
            process.ErrorDataReceived += (_, line) => server.Keep(line.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                await server.WaitUntilServingAsync(startLimit ?? TimeSpan.FromSeconds(60));
                return server;
            }
            catch (InvalidOperationException) when (attempt < 3 && server.PortWasTaken())
            {
                await server.DisposeAsync();
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }
    }

    private bool PortWasTaken() => _process.HasExited && LastLines().Contains("the listening address is taken", StringComparison.Ordinal);

    /// <summary>Runs a server that is expected to exit by itself (one that must refuse to start) and returns its exit
    /// code and what it wrote; one still running after <paramref name="limit"/> (60 s) is killed and fails the test.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunToExitAsync(IReadOnlyDictionary<string, string> settings,
        string environment = "Testing", string? workingDirectory = null, TimeSpan? limit = null)
    {
        using var process = Process.Start(StartInfo(settings, $"http://127.0.0.1:{Loopback.FreePort()}", environment, workingDirectory))
            ?? throw new InvalidOperationException("the server process did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(limit ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the server did not exit: {await output}{await error}");
        }
        return (process.ExitCode, await output, await error);
    }

    private static ProcessStartInfo StartInfo(IReadOnlyDictionary<string, string> settings, string address, string environment, string? workingDirectory)
    {
        var start = new ProcessStartInfo("dotnet", Path.Combine(AppContext.BaseDirectory, "Cratus.Randomization.Server.dll"))
        {
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = environment;
        start.Environment["Kestrel__Endpoints__Grpc__Url"] = address;
        // Any free port: these tests reach the server over gRPC only (their tokens are minted), so no race for a second port.
        start.Environment["Kestrel__Endpoints__Web__Url"] = "http://127.0.0.1:0";
        foreach (var (key, value) in settings) start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        return start;
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

    public global::Grpc.Core.CallInvoker Channel(string? token)
    {
        var raw = Loopback.Channel(Address, token);
        return RequestIds.Fill(raw).Intercept(new Signing.AutoSigner(token, raw.CreateCallInvoker()));
    }

    /// <summary>The clients of every service as the bearer of <paramref name="token"/> (none if null).</summary>
    public TrialClients As(string? token) => new(Channel(token));

    /// <summary>The clients of every service as a user in <paramref name="role"/> (at <paramref name="sites"/>), with a
    /// token signed by the key this server was started with (<see cref="Deployment"/> settings).</summary>
    public TrialClients As(TrialRole role, params string[] sites) => As(Token(role, sites));

    /// <summary>A token signed by the key this server was started with, for an account made to exist (in its
    /// database) in <paramref name="role"/> at <paramref name="sites"/>.</summary>
    public string Token(TrialRole role, params string[] sites)
    {
        if (!_settings.TryGetValue("Token:SigningKeys:0", out var key))
            throw new InvalidOperationException("this server was started without Token:SigningKeys:0 in its settings: pass a token to As(token)");
        var subject = TrialServer.DefaultSubject(role, sites);
        Task.Run(() => TestDatabases.ExecuteAsync(_settings, TestSecrets.AccountSql(role, subject, sites,
            _settings.TryGetValue("Database:Provider", out var provider) && provider == nameof(TestDatabase.SqlServer) ? TestDatabase.SqlServer : TestDatabase.Sqlite))).GetAwaiter().GetResult();
        var issuer = _settings.TryGetValue("Token:Issuer", out var configured) ? configured : TestSecrets.Issuer;
        return TestSecrets.Sign(key, role, subject, sites, DateTimeOffset.UtcNow, issuer: issuer);
    }

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
}
