using System.Net.Http.Json;
using System.Text.Json.Serialization;
using Cratus.Randomization.Protos.V1;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace Cratus.Benchmark.Scenarios;

/// <summary>
/// Load on a running deployment (<c>--target</c>), so an operator can measure what they installed: the gRPC health
/// check, Randomize of fresh participants at one site and GetAssignment of the first of them, each at 1, 8 and 32
/// callers, as a registered site system (client-credentials token). It refuses to run unless the server says, in its
/// <c>cratus-trial-mode</c> reply header, that it runs a UAT trial: the randomizations it makes are real records of
/// the trial it is pointed at, so that must be a throw-away one.
/// </summary>
internal static class DeploymentScenario
{
    /// <summary>The header every reply of the server carries (Rehearsal/RehearsalOptions.cs, TrialModes.Header).</summary>
    public const string ModeHeader = "cratus-trial-mode";

    public const string TokenVariable = "CRATUS_BENCH_TOKEN";
    public const string SecretVariable = "CRATUS_BENCH_CLIENT_SECRET";

    private static readonly int[] Concurrencies = [1, 8, 32];

    /// <summary>Where and as whom: the target's gRPC address, the site, and how to get a token.</summary>
    public sealed record Target(Uri Address, string Site, string? Token, Uri? TokenEndpoint, string? ClientId, string? ClientSecret)
    {
        /// <summary>The target the options name, or an <see cref="ArgumentException"/> saying what is missing.</summary>
        public static Target From(Options options)
        {
            var address = new Uri(options.Text("--target", ""), UriKind.Absolute);
            var token = options.Text("--token", Environment.GetEnvironmentVariable(TokenVariable) ?? "");
            var clientId = options.Text("--client-id", "");
            var secret = options.Text("--client-secret", Environment.GetEnvironmentVariable(SecretVariable) ?? "");
            var endpoint = options.Text("--token-endpoint", "");
            if (token.Length == 0 && (clientId.Length == 0 || secret.Length == 0 || endpoint.Length == 0))
                throw new ArgumentException($"--target needs a site system's token (--token or {TokenVariable}) or its client credentials " +
                                            $"(--client-id, --client-secret or {SecretVariable}, and --token-endpoint, e.g. https://host:5081/connect/token)");
            return new Target(address, options.Text("--site", "UM"), token.Length > 0 ? token : null,
                endpoint.Length > 0 ? new Uri(endpoint, UriKind.Absolute) : null, clientId.Length > 0 ? clientId : null, secret.Length > 0 ? secret : null);
        }

        /// <summary>The given token, or a fresh one from the token endpoint (site-system tokens live minutes, so one is
        /// asked for before each measurement).</summary>
        public async Task<string> TokenAsync()
        {
            if (Token is not null) return Token;
            using var http = new HttpClient();
            using var reply = await http.PostAsync(TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials", ["client_id"] = ClientId!, ["client_secret"] = ClientSecret!, ["scope"] = "cratus",
            }));
            if (!reply.IsSuccessStatusCode)
                throw new InvalidOperationException($"the token endpoint {TokenEndpoint} refused the client credentials of {ClientId}: {(int)reply.StatusCode} {await reply.Content.ReadAsStringAsync()}");
            return (await reply.Content.ReadFromJsonAsync<TokenReply>())?.AccessToken ?? throw new InvalidOperationException("the token endpoint answered without an access_token");
        }
    }

    private sealed record TokenReply([property: JsonPropertyName("access_token")] string? AccessToken);

    public static async Task RunAsync(Target target, Window window, Report report)
    {
        var mode = await TrialModeAsync(target);
        if (!string.Equals(mode, "uat", StringComparison.Ordinal))
            throw new InvalidOperationException(mode is null
                ? $"refused: {target.Address} sent no {ModeHeader} header, so it cannot be told from a production server; point the benchmark at a UAT server of a throw-away trial"
                : $"refused: {target.Address} says {ModeHeader}: {mode}; the benchmark randomizes real records, so it runs only against a UAT server of a throw-away trial");
        var run = Guid.NewGuid().ToString("N")[..8];
        var results = new Dictionary<(string, int), Result>();
        var first = await RandomizeOnceAsync(target, $"LT-{run}-first");
        foreach (var callers in Concurrencies)
        {
            var token = await target.TokenAsync();
            Console.WriteLine($"measuring {target.Address} at {callers} callers");
            results[("health", callers)] = await Load.MeasureAsync(callers, window, Channels(target, null), async (ch, _) =>
                await new Health.HealthClient(ch).CheckAsync(new HealthCheckRequest()));
            results[("assignment", callers)] = await Load.MeasureAsync(callers, window, Channels(target, token), async (ch, _) =>
                await new RandomizationService.RandomizationServiceClient(ch).GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = first }));
            results[("randomize", callers)] = await Load.MeasureAsync(callers, window, Channels(target, token), async (ch, i) =>
                await new RandomizationService.RandomizationServiceClient(ch).RandomizeAsync(BenchServer.Request($"LT-{run}-{callers}-{i}", target.Site)));
        }
        report.Line($"## A running deployment: {target.Address} ({ModeHeader}: {mode})");
        report.Line();
        report.Line($"As a site system at site {target.Site}; screening ids of this run start with `LT-{run}-`. The server's own store and machine are what " +
                    "its operator installed; the load generator ran on the machine named above.");
        report.Line();
        report.Line("| measurement | callers | calls/s | p50 ms | p99 ms | statuses |");
        report.Line("| --- | ---: | ---: | ---: | ---: | --- |");
        foreach (var (name, label) in new[] { ("health", "gRPC health check (transport baseline)"), ("assignment", "GetAssignment (a read)"), ("randomize", "Randomize, fresh participants (the write)") })
            foreach (var callers in Concurrencies)
            {
                var r = results[(name, callers)];
                report.Line($"| {label} | {callers} | {r.Rate:F0} | {r.P50:F2} | {r.P99:F2} | {r.Statuses} |");
            }
        report.Line();
        report.Line("| callers | GetAssignment / health check | Randomize / health check |");
        report.Line("| ---: | ---: | ---: |");
        foreach (var callers in Concurrencies)
            report.Line($"| {callers} | {results[("assignment", callers)].Rate / results[("health", callers)].Rate:F2} | {results[("randomize", callers)].Rate / results[("health", callers)].Rate:F3} |");
        report.Line();
    }

    /// <summary>The value of the trial-mode header on a GetTrial reply (or on its refusal), or null without one.</summary>
    public static async Task<string?> TrialModeAsync(Target target)
    {
        using var call = new TrialService.TrialServiceClient(Channel(target, await target.TokenAsync())).GetTrialAsync(new GetTrialRequest());
        // The header is on refusals too (a production server refuses a UAT token, and still says it is production).
        string? mode = null;
        try
        {
            mode = (await call.ResponseHeadersAsync).GetValue(ModeHeader);
            await call.ResponseAsync;
        }
        catch (RpcException ex)
        {
            mode ??= ex.Trailers.GetValue(ModeHeader);
            if (mode is not null && !string.Equals(mode.Trim(), "uat", StringComparison.OrdinalIgnoreCase)) return mode.Trim().ToLowerInvariant();
            throw new InvalidOperationException($"{target.Address} answered GetTrial with {ex.StatusCode}: {ex.Status.Detail}");
        }
        return mode?.Trim().ToLowerInvariant();
    }

    private static async Task<string> RandomizeOnceAsync(Target target, string screening)
    {
        var client = new RandomizationService.RandomizationServiceClient(Channel(target, await target.TokenAsync()));
        return (await client.RandomizeAsync(BenchServer.Request(screening, target.Site))).Assignment.ParticipantId;
    }

    /// <summary>The deployment mode checked on this machine (<c>--only deployment</c>): a UAT server started here, a site
    /// system registered on it, the schedule generated, then the same measurements as against a running deployment,
    /// through its token endpoint; and a production server, which the mode must refuse to load.</summary>
    public static async Task CheckAsync(Window window, Report report)
    {
        var uat = await BenchServer.DeployAsync(0, BenchStore.Sqlite);
        var webPort = BenchServer.FreePort();
        uat.Settings["Trial__Mode"] = "Uat";
        uat.Settings["Kestrel__Endpoints__Web__Url"] = $"http://127.0.0.1:{webPort}";
        await using (var server = await BenchServer.LaunchAsync(uat, removeDeploymentOnDispose: true))
        {
            await server.CreateAccountsAsync();
            var secret = await server.RegisterSiteSystemAsync("bench-load");
            await server.GenerateScheduleAsync();
            await RunAsync(new Target(new Uri(server.Address), "UM", null, new Uri($"http://127.0.0.1:{webPort}/connect/token"), "bench-load", secret), window, report);
        }
        var production = await BenchServer.DeployAsync(0, BenchStore.Sqlite);
        await using (var server = await BenchServer.LaunchAsync(production, removeDeploymentOnDispose: true))
        {
            try
            {
                await RunAsync(new Target(new Uri(server.Address), "UM", server.Token("site_coordinator", "UM"), null, null, null), window, report);
                throw new InvalidOperationException("the benchmark did not refuse a production server");
            }
            catch (InvalidOperationException refused) when (refused.Message.StartsWith("refused:", StringComparison.Ordinal))
            {
                report.Line($"Against a production server started here, the benchmark stopped before any call but GetTrial: \"{refused.Message}\"");
                report.Line();
            }
        }
    }

    private static GrpcChannel[] Channels(Target target, string? token) => [.. Enumerable.Range(0, 4).Select(_ => Channel(target, token))];

    private static GrpcChannel Channel(Target target, string? token) => BenchServer.Channel(target.Address.ToString(), token);
}
