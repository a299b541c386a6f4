using System.Collections.ObjectModel;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Trace;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// Telemetry an operator can watch, and that tells nobody who got what (README, "Telemetry"): a real server on loopback
/// with tracing on (an OTLP collector configured) and an in-memory exporter beside it, a day of randomizations, refusals,
/// REST calls, a dose order and an emergency unblinding; then every span, attribute and event, and every metric name and
/// label on the scrape endpoint, is searched for what the day produced: participant and screening ids, randomization
/// numbers, product codes, arms, treatments, cell counts. OpenTelemetry listens process-wide (every server in the test
/// process feeds the meter this server scrapes), so these run alone, after the tests that run in parallel: the counts
/// they assert are this server's own.
/// </summary>
[Collection(OneServerProcessTestAtATime.Name)]
public sealed class TelemetryTests
{
    private const string ScrapeToken = "test-scrape-token-0123456789abcdef";

    /// <summary>Spans as the exporter receives them (it adds from the server's threads).</summary>
    private sealed class Spans : Collection<Activity>
    {
        protected override void InsertItem(int index, Activity item)
        {
            lock (this) base.InsertItem(index, item);
        }

        public List<Activity> Snapshot()
        {
            lock (this) return [.. this];
        }
    }

    private static (TrialServer Server, int ManagementPort) Start(Spans spans)
    {
        var management = Loopback.FreePort();
        var settings = new Dictionary<string, string>
        {
            ["Telemetry:ScrapeToken"] = ScrapeToken,
            ["Telemetry:ManagementPort"] = management.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Kestrel:Endpoints:Management:Url"] = $"http://127.0.0.1:{management}",
            ["Kestrel:Endpoints:Management:Protocols"] = "Http1",
            // A collector that is not there: traces are on, as in a deployment that exports them; nothing waits for it.
            ["Telemetry:OtlpEndpoint"] = "http://127.0.0.1:9",
        };
        var server = new TrialServer(TestDatabase.Sqlite, onLoopback: true, settings, services =>
        {
            services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans));
            services.AddSingleton<QueryWhileStarting>().AddHostedService(s => s.GetRequiredService<QueryWhileStarting>());
        });
        return (server, management);
    }

    /// <summary>
    /// A database query in the host's starting phase, where the migrations run, before any hosted service has started
    /// (OpenTelemetry's among them), and when it ran.
    /// </summary>
    private sealed class QueryWhileStarting(IServiceScopeFactory scopes) : IHostedLifecycleService
    {
        public (DateTime From, DateTime To) Ran { get; private set; }

        public async Task StartingAsync(CancellationToken cancellationToken)
        {
            var from = DateTime.UtcNow;
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<TrialDbContext>().Database.ExecuteSqlRawAsync("SELECT 1", cancellationToken);
            Ran = (from, DateTime.UtcNow);
        }

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>
    /// Tracing listens from the start, before the hosted services start: start-up's own database work is traced, and
    /// the first calls' commands are too. (It listened only once OpenTelemetry's hosted service had started; EF Core,
    /// having seen nobody listen to the migrations' commands, then skipped for a second, per pooled context, the event
    /// a command span starts from: a test whose calls came within that second, in a warm test process, had none.)
    /// </summary>
    [Fact]
    public async Task Tracing_ListensWhileTheHostStarts_SoStartUpsDatabaseWorkIsTraced()
    {
        var spans = new Spans();
        var (server, _) = Start(spans);
        await using var _ = server;

        var ran = server.Services.GetRequiredService<QueryWhileStarting>().Ran;
        Assert.NotEqual(default, ran.From);
        Assert.Contains(spans.Snapshot(), s => s.Source.Name.Contains("EntityFrameworkCore", StringComparison.Ordinal)
            && s.StartTimeUtc >= ran.From && s.StartTimeUtc <= ran.To);
    }

    [Fact]
    public async Task TrialDay_SpansAndMetrics_NameNoParticipantArmNumberOrProduct()
    {
        var spans = new Spans();
        var (server, managementPort) = Start(spans);
        await using var _ = server;
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });

        // Randomizations over gRPC and over REST; a refusal of each kind a site meets.
        var assignments = new List<BlindedAssignment>();
        for (var i = 0; i < 3; i++)
            assignments.Add((await server.Site().RandomizeAsync(Requests.Randomize($"SCR-TEL-{i}", i % 2 == 0 ? Sex.Female : Sex.Male))).Assignment);
        var coordinator = server.Token(TrialRole.SiteCoordinator, sites: ["UM"]);
        using var rest = new HttpClient { BaseAddress = new Uri(server.WebAddress + "/") };
        rest.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", coordinator);
        using (var randomized = await rest.PostAsync("api/v1/participants:randomize",
            new StringContent(JsonFormatter.Default.Format(Requests.Randomize("SCR-TEL-REST")), Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.OK, randomized.StatusCode);
        }
        using (var read = await rest.GetAsync($"api/v1/participants/{assignments[1].ParticipantId}/assignment"))
        {
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }
        var twice = await Assert.ThrowsAsync<RpcException>(() => server.Site().RandomizeAsync(Requests.Randomize("SCR-TEL-0")).ResponseAsync);
        var twiceReason = twice.GetRpcStatus()!.GetDetail<Google.Rpc.ErrorInfo>().Reason;
        await Assert.ThrowsAsync<RpcException>(() => server.Site().RandomizeAsync(Requests.Randomize("SCR-TEL-X", site: "JH")).ResponseAsync);
        using (var missing = await rest.GetAsync("api/v1/participants/P-NOSUCHONE/assignment"))
        {
            Assert.NotEqual(HttpStatusCode.OK, missing.StatusCode);
        }

        // What only the unblinded learn: the pharmacist's dose order and an investigator's emergency unblinding.
        var order = await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = assignments[2].ParticipantId });
        var investigator = new UnblindingService.UnblindingServiceClient(server.Channel(server.Token(TrialRole.Investigator, "dr-tel", ["UM"])));
        await Assert.ThrowsAsync<RpcException>(() => investigator.EmergencyUnblindAsync(new EmergencyUnblindRequest { ParticipantId = assignments[1].ParticipantId }).ResponseAsync);
        var unblinded = await investigator.EmergencyUnblindAsync(new EmergencyUnblindRequest { ParticipantId = assignments[1].ParticipantId, Reason = "anaphylaxis" });

        var all = (await server.As(TrialRole.Monitor).Participants.ListParticipantsAsync(new ListParticipantsRequest())).Participants;
        Assert.Equal(4, all.Count);
        var identifying = all.SelectMany(p => new[] { p.ParticipantId, p.ScreeningId, p.RandomizationNumber, p.ProductCode })
            .Concat(["SCR-TEL-X", "P-NOSUCHONE", order.Treatment, unblinded.Treatment.Treatment])
            .Concat(["100 million allo-hMSCs", "200 million allo-hMSCs", "matched placebo", "100000000", "200000000"])
            .Where(v => v.Length > 0).Distinct().ToList();
        // Arm codes are single letters: searched as whole values, not inside words.
        var arms = new[] { "A", "B", "C" };
        Assert.Contains(order.ArmCode, arms);
        Assert.Contains(unblinded.Treatment.ArmCode, arms);

        var scrape = await ScrapeAsync(managementPort, ScrapeToken);
        Assert.Equal(HttpStatusCode.OK, scrape.Status);
        var spanList = await SpansAfterAsync(spans, "cratus.randomization.v1.UnblindingService/EmergencyUnblind");

        // What an operator watches is there.
        foreach (var metric in new[]
                 {
                     "cratus_randomizations_total", "cratus_refusals_total", "cratus_unblindings_total{", "cratus_call_duration_seconds_bucket{",
                     "cratus_db_command_duration_seconds_bucket{", "cratus_outbox_backlog", "http_server_request_duration_seconds_bucket{",
                 })
            Assert.True(scrape.Body.Contains(metric, StringComparison.Ordinal), $"{metric} is missing from the scrape:\n{scrape.Body}");
        Assert.Matches(@"cratus_randomizations_total(\{[^}]*\})? 4(\s|$)", scrape.Body);
        Assert.Matches(@"cratus_unblindings_total\{[^}]*kind=""emergency""[^}]*\} 1(\s|$)", scrape.Body);
        Assert.Contains($"reason=\"{twiceReason}\"", scrape.Body, StringComparison.Ordinal);
        Assert.Contains("rpc_method=\"/cratus.randomization.v1.RandomizationService/Randomize\"", scrape.Body, StringComparison.Ordinal);
        Assert.Contains($"rpc_grpc_status=\"{twice.StatusCode}\"", scrape.Body, StringComparison.Ordinal);
        Assert.Contains(spanList, s => s.DisplayName == "cratus.randomization.v1.RandomizationService/Randomize" && s.GetTagItem("rpc.grpc.status_code") is not null);
        Assert.Contains(spanList, s => s.GetTagItem("http.route") is string route && route.Contains("participants/{", StringComparison.Ordinal)
            && s.GetTagItem("url.path") is string path && path.Contains("participants/{", StringComparison.Ordinal));
        var commands = spanList.Where(s => s.Source.Name.Contains("EntityFrameworkCore", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(commands);
        Assert.All(commands, c => Assert.Null(c.GetTagItem("db.query.text") ?? c.GetTagItem("db.statement")));

        // ...and nothing that tells who got what, or who anyone is.
        var spanTexts = spanList.SelectMany(Texts).ToList();
        foreach (var secret in identifying)
        {
            var found = spanTexts.FirstOrDefault(t => t.Contains(secret, StringComparison.Ordinal));
            Assert.True(found is null, $"a span carries '{secret}': {found}");
            var line = LabelledLines(scrape.Body).FirstOrDefault(l => l.Contains(secret, StringComparison.Ordinal));
            Assert.True(line is null, $"a metric carries '{secret}': {line}");
        }
        foreach (var arm in arms)
        {
            Assert.DoesNotContain(spanList.SelectMany(s => s.TagObjects), t => t.Value is string v && v == arm);
            Assert.DoesNotContain($"=\"{arm}\"", scrape.Body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Scrape_WithoutItsCredentialOrOnThePublicPort_IsRefused()
    {
        var (server, managementPort) = Start(new Spans());
        await using var _ = server;

        var none = await ScrapeAsync(managementPort, token: null);
        var wrong = await ScrapeAsync(managementPort, "test-scrape-token-0123456789abcdeX");
        var userToken = await ScrapeAsync(managementPort, server.Token(TrialRole.Administrator));
        using var web = new HttpClient { BaseAddress = new Uri(server.WebAddress + "/") };
        using var onPublicPort = new HttpRequestMessage(HttpMethod.Get, "metrics");
        onPublicPort.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ScrapeToken);
        using var publicReply = await web.SendAsync(onPublicPort);
        using var management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}/") };
        using var restOnManagement = await management.GetAsync("api/v1/trial");
        var right = await ScrapeAsync(managementPort, ScrapeToken);

        Assert.Equal(HttpStatusCode.Unauthorized, none.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, userToken.Status);
        Assert.DoesNotContain("cratus_", none.Body + wrong.Body + userToken.Body, StringComparison.Ordinal);
        Assert.NotEqual(HttpStatusCode.OK, publicReply.StatusCode);
        Assert.DoesNotContain("cratus_", await publicReply.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, restOnManagement.StatusCode);
        Assert.Equal(HttpStatusCode.OK, right.Status);
        Assert.Contains("cratus_outbox_backlog", right.Body, StringComparison.Ordinal);
    }

    [Fact]
    public void Start_OutsideDevelopmentWithTheSampleScrapeToken_IsRefused()
    {
        var failure = Assert.ThrowsAny<Exception>(() => new TrialServer(TestDatabase.Sqlite, onLoopback: false,
            new Dictionary<string, string> { ["Telemetry:ScrapeToken"] = "sample-scrape-token-REPLACE-ME-with-32-random-chars" }));

        var (code, line) = StartupFailure.Describe(failure);
        Assert.Equal(StartupFailure.InvalidConfiguration, code);
        Assert.Contains("Telemetry:ScrapeToken is a development or sample secret", line, StringComparison.Ordinal);
    }

    private static async Task<(HttpStatusCode Status, string Body)> ScrapeAsync(int port, string? token)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        using var request = new HttpRequestMessage(HttpMethod.Get, "metrics");
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var reply = await http.SendAsync(request);
        return (reply.StatusCode, await reply.Content.ReadAsStringAsync());
    }

    /// <summary>The spans, once the last call's has ended (a span ends just after its reply is sent).</summary>
    private static async Task<List<Activity>> SpansAfterAsync(Spans spans, string last)
    {
        for (var i = 0; i < 100 && !spans.Snapshot().Any(s => s.DisplayName == last); i++) await Task.Delay(50);
        await Task.Delay(200);
        return spans.Snapshot();
    }

    /// <summary>Everything a span says: its name, status description, attributes, events, links' attributes and baggage.</summary>
    private static IEnumerable<string> Texts(Activity span) =>
        new[] { $"name {span.DisplayName}", $"status {span.StatusDescription}" }
            .Concat(span.TagObjects.Select(t => $"tag {t.Key}={t.Value}"))
            .Concat(span.Events.SelectMany(e => e.Tags.Select(t => $"event {e.Name} {t.Key}={t.Value}").Prepend($"event {e.Name}")))
            .Concat(span.Links.SelectMany(l => l.Tags?.Select(t => $"link {t.Key}={t.Value}") ?? []))
            .Concat(span.Baggage.Select(b => $"baggage {b.Key}={b.Value}"));

    /// <summary>The metric name and labels of each sample line (not its value or timestamp), and the HELP texts.</summary>
    private static IEnumerable<string> LabelledLines(string exposition) =>
        exposition.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.StartsWith('#') ? l : l.Contains('}') ? l[..(l.LastIndexOf('}') + 1)] : l.Split(' ')[0]);
}
