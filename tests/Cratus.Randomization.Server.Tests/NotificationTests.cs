using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Notifications;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.DependencyInjection;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// Notifications through real parts: the real gRPC call that causes each event, the outbox in the real database, the
/// delivery worker, a real SMTP listener and a real HTTP listener on loopback (signatures verified as a receiver
/// would). Every message any recipient receives is checked for a treatment with the blinding test's detector.
/// </summary>
public abstract class NotificationTests : OnEachDatabase
{
    private const string Secret = "test-webhook-secret-0123456789-abcdefghij";

    private static readonly (string, string)[] TwoSites =
    [
        ("{ \"code\": \"UM\", \"name\": \"University of Miami, Interdisciplinary Stem Cell Institute\" }",
         "{ \"code\": \"UM\", \"name\": \"University of Miami\" }, { \"code\": \"JH\", \"name\": \"Second site\" }"),
    ];

    /// <summary>Sponsor, monitor and the two sites' investigators by e-mail; the statisticians and the DSMB by webhook.</summary>
    private static Dictionary<string, string> Settings(SmtpReceiver smtp, WebhookReceiver hooks, string firstRetry = "00:00:10")
    {
        var settings = new Dictionary<string, string>
        {
            ["Notifications:PollInterval"] = "00:00:00.100",
            ["Notifications:FirstRetryDelay"] = firstRetry,
            ["Notifications:MaxRetryDelay"] = "00:00:30",
            ["Notifications:WebhookSecret"] = Secret,
            ["Notifications:Smtp:Host"] = "127.0.0.1",
            ["Notifications:Smtp:Port"] = smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Notifications:Smtp:Security"] = "None",
            ["Notifications:Smtp:From"] = "cratus@trial.example.org",
        };
        var recipients = new (string Name, string Audience, string? Site, string? Email, string? Webhook)[]
        {
            ("sponsor", "Sponsor", null, "sponsor@example.org", null),
            ("monitor", "Monitor", null, "monitor@example.org", null),
            ("um-investigator", "Investigator", "UM", "um@example.org", null),
            ("jh-investigator", "Investigator", "JH", "jh@example.org", null),
            ("statisticians", "Statistician", null, null, hooks.Url("stats")),
            ("dsmb", "DsmbMember", null, null, hooks.Url("dsmb")),
        };
        for (var i = 0; i < recipients.Length; i++)
        {
            var (name, audience, site, email, webhook) = recipients[i];
            settings[$"Notifications:Recipients:{i}:Name"] = name;
            settings[$"Notifications:Recipients:{i}:Audience"] = audience;
            if (site is not null) settings[$"Notifications:Recipients:{i}:Site"] = site;
            if (email is not null) settings[$"Notifications:Recipients:{i}:Email"] = email;
            if (webhook is not null) settings[$"Notifications:Recipients:{i}:Webhook"] = webhook;
        }
        return settings;
    }

    private static string EventOf(netDumbster.smtp.SmtpMessage m) => m.Headers[NotificationHeaders.Event] ?? "";

    /// <summary>The events each recipient received, sorted, as "event" strings.</summary>
    private static List<string> Events(SmtpReceiver smtp, string address) => [.. smtp.To(address).Select(EventOf).Order(StringComparer.Ordinal)];

    private static List<string> Events(WebhookReceiver hooks, string path) => [.. hooks.At(path).Select(d => d.Event).Order(StringComparer.Ordinal)];

    private static void NoMessageStatesATreatment(SmtpReceiver smtp, WebhookReceiver hooks)
    {
        var everything = smtp.Messages.Select(m => m.Data).Concat(hooks.Received.Select(d => d.Everything)).ToList();
        Assert.NotEmpty(everything);
        foreach (var text in everything)
            Assert.False(BlindingTests.Treatment().IsMatch(text), $"a notification states a treatment: {BlindingTests.Treatment().Match(text).Value} in {text}");
    }

    private static async Task<int> CountAsync(TrialServer server, string where) =>
        Convert.ToInt32((await server.QueryAsync($"""SELECT COUNT(*) FROM "OutboxMessages" WHERE {where}"""))[0][0], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Waits until every message in the outbox is sent, then a little longer, so that a message sent twice would show.</summary>
    private static async Task AllSentAsync(TrialServer server)
    {
        var until = DateTime.UtcNow.AddSeconds(20);
        while (await CountAsync(server, "\"SentAtUnixMilliseconds\" IS NULL") > 0)
        {
            if (DateTime.UtcNow > until)
            {
                var rows = await server.QueryAsync("""SELECT "Recipient", "Event", "Attempts", "NextAttemptAtUnixMilliseconds", "LeaseUntilUnixMilliseconds", "LastError" FROM "OutboxMessages" WHERE "SentAtUnixMilliseconds" IS NULL""");
                Assert.Fail($"not sent within 20 s (clock {server.Clock.GetUtcNow().ToUnixTimeMilliseconds()}): " + string.Join(" | ", rows.Select(r => string.Join(", ", r))));
            }
            await Task.Delay(50);
        }
        await Task.Delay(400);
    }

    [ProviderFact]
    public async Task PhaseTwo_EachEventReachesItsAudienceOnce_AndNoMessageStatesATreatment()
    {
        using var smtp = new SmtpReceiver();
        using var hooks = new WebhookReceiver(Secret);
        await using var server = new TrialServer(Database, false, Settings(smtp, hooks), TwoSites);
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        var participants = new List<BlindedAssignment>();
        for (var i = 0; i < 3; i++)
            participants.Add((await server.Site().RandomizeAsync(Requests.Randomize($"SCR-{i}", i % 2 == 0 ? Sex.Female : Sex.Male))).Assignment);
        var unblinded = await new UnblindingService.UnblindingServiceClient(server.Channel(server.Token(TrialRole.Investigator, "dr-jones", ["UM"])))
            .EmergencyUnblindAsync(new EmergencyUnblindRequest { ParticipantId = participants[1].ParticipantId, Reason = "anaphylaxis, treating physician needs to know" });
        var stat1 = new UnblindingService.UnblindingServiceClient(server.Channel(server.Token(TrialRole.Statistician, "stat-1")));
        var stat2 = new UnblindingService.UnblindingServiceClient(server.Channel(server.Token(TrialRole.Statistician, "stat-2")));
        var aggregate = (await stat1.RequestUnblindingAsync(new RequestUnblindingRequest { Scope = UnblindingScope.DsmbAggregate, Reason = "DSMB meeting 2" })).Request;
        await stat2.ApproveUnblindingAsync(new ApproveUnblindingRequest { UnblindingId = aggregate.UnblindingId, Reason = "agreed" });
        await stat1.RequestUnblindingAsync(new RequestUnblindingRequest
        {
            Scope = UnblindingScope.Participant, ParticipantId = participants[0].ParticipantId, Reason = "SAE narrative for the regulator",
        });
        await AllSentAsync(server);
        var beforeExpiry = hooks.At("stats").Count();
        // The approval lifetime (3 days) passes: the expiry is announced once, however many rounds see it.
        server.Clock.Advance(TimeSpan.FromDays(3) + TimeSpan.FromMinutes(1));
        await Eventually.HoldsAsync(() => hooks.At("stats").Count() > beforeExpiry, "the expiry announced");
        await AllSentAsync(server);
        await Task.Delay(500);

        string[] randomized = [NotificationEvents.ParticipantRandomized, NotificationEvents.ParticipantRandomized, NotificationEvents.ParticipantRandomized];
        Assert.Equal([.. randomized, NotificationEvents.EmergencyUnblinding], Events(smtp, "sponsor@example.org"));
        Assert.Equal(randomized, Events(smtp, "monitor@example.org"));
        Assert.Equal(randomized, Events(smtp, "um@example.org"));
        Assert.Empty(Events(smtp, "jh@example.org")); // another site's participants: never
        Assert.Equal(new[]
        {
            NotificationEvents.UnblindingApprovalExpired, NotificationEvents.UnblindingApproved, NotificationEvents.EmergencyUnblinding,
            NotificationEvents.UnblindingRequested, NotificationEvents.UnblindingRequested,
        }, Events(hooks, "stats"));
        // The DSMB hears of the emergency and of its own aggregate request's approval and expiry, not of a participant request.
        Assert.Equal(new[] { NotificationEvents.UnblindingApprovalExpired, NotificationEvents.UnblindingApproved, NotificationEvents.EmergencyUnblinding },
            Events(hooks, "dsmb"));
        Assert.All(hooks.Received, d => Assert.True(d.SignatureValid, $"bad signature on {d.EventId}"));
        Assert.Equal(hooks.Received.Count, hooks.Received.Select(d => d.EventId).Distinct().Count());
        Assert.Equal(smtp.Messages.Count, smtp.Messages.Select(m => m.Headers["Message-ID"]).Distinct().Count());

        var emergency = Assert.Single(smtp.To("sponsor@example.org"), m => EventOf(m) == NotificationEvents.EmergencyUnblinding);
        Assert.Contains(participants[1].ParticipantId, emergency.MessageParts[0].BodyData, StringComparison.Ordinal);
        Assert.Contains("anaphylaxis", emergency.MessageParts[0].BodyData, StringComparison.Ordinal);
        Assert.Contains(emergency.Headers[NotificationHeaders.EventId]!, emergency.Headers["Message-ID"], StringComparison.Ordinal);
        var first = Assert.Single(smtp.To("um@example.org"), m => m.MessageParts[0].BodyData.Contains(participants[0].ParticipantId, StringComparison.Ordinal));
        Assert.Contains(participants[0].RandomizationNumber, first.MessageParts[0].BodyData, StringComparison.Ordinal);
        Assert.Contains(unblinded.Treatment.ArmCode, new[] { "A", "B", "C" });
        NoMessageStatesATreatment(smtp, hooks);
    }

    [ProviderFact]
    public async Task PhaseOne_SafetyEventHoldDecisionAndClosingWindow_AreAnnounced()
    {
        using var smtp = new SmtpReceiver();
        using var hooks = new WebhookReceiver(Secret);
        await using var server = new TrialServer(Database, false, Settings(smtp, hooks), [("", ""), .. TwoSites]);
        var site = new DoseEscalationService.DoseEscalationServiceClient(server.Channel(TrialRole.SiteCoordinator, "UM"));
        var enrolled = (await site.EnrollInCohortAsync(new EnrollInCohortRequest
        {
            RequestId = Guid.NewGuid().ToString(), SiteCode = "UM", ScreeningId = "P1", Eligibility = Requests.Eligible(),
        })).Assignment;
        await ProductPath.InfuseAsync(server, enrolled.ParticipantId);
        server.Clock.Advance(TimeSpan.FromDays(12));
        site = new DoseEscalationService.DoseEscalationServiceClient(server.Channel(TrialRole.SiteCoordinator, "UM")); // a token valid now
        var report = await new ParticipantService.ParticipantServiceClient(server.Channel(TrialRole.SiteCoordinator, "UM")).ReportSafetyEventAsync(new ReportSafetyEventRequest
        {
            ParticipantId = enrolled.ParticipantId, Type = SafetyEventType.Stroke, Serious = true, OnsetDate = new CalendarDate { Year = 2026, Month = 12, Day = 4 },
        });
        Assert.True(report.EnrolmentOnHold);
        await new DoseEscalationService.DoseEscalationServiceClient(server.Channel(TrialRole.DsmbMember))
            .RecordDsmbDecisionAsync(new RecordDsmbDecisionRequest { Decision = DsmbDecisionKind.Continue, Reason = "stroke judged unrelated; continue cohort 1" });
        await AllSentAsync(server);
        Assert.DoesNotContain(smtp.Messages, m => EventOf(m) == NotificationEvents.SafetyWindowClosing);

        // Day 28.5 of 30: inside the two days' notice. Then a day later: not announced again.
        server.Clock.Advance(TimeSpan.FromDays(16.5));
        await Eventually.HoldsAsync(() => smtp.To("um@example.org").Any(m => EventOf(m) == NotificationEvents.SafetyWindowClosing), "the closing window announced");
        server.Clock.Advance(TimeSpan.FromDays(1));
        await Task.Delay(500);
        await AllSentAsync(server);

        string[] safety = [NotificationEvents.DsmbDecision, NotificationEvents.SafetyHold, NotificationEvents.SafetyEventReported];
        Assert.Equal([.. safety, NotificationEvents.SafetyWindowClosing], Events(smtp, "um@example.org"));
        Assert.Equal([.. safety, NotificationEvents.SafetyWindowClosing], Events(smtp, "sponsor@example.org"));
        Assert.Equal(safety, Events(smtp, "monitor@example.org"));
        // The other site hears of the trial-wide hold and decision, not of this site's participant.
        Assert.Equal([NotificationEvents.DsmbDecision, NotificationEvents.SafetyHold], Events(smtp, "jh@example.org"));
        Assert.Equal([.. safety, NotificationEvents.SafetyWindowClosing], Events(hooks, "dsmb"));
        Assert.Equal([NotificationEvents.DsmbDecision, NotificationEvents.SafetyHold], Events(hooks, "stats"));
        var hold = Assert.Single(smtp.To("jh@example.org"), m => EventOf(m) == NotificationEvents.SafetyHold);
        Assert.Contains("on hold until the DSMB records a decision", hold.MessageParts[0].BodyData, StringComparison.Ordinal);
        Assert.Contains("Stroke", hold.MessageParts[0].BodyData, StringComparison.Ordinal);
        NoMessageStatesATreatment(smtp, hooks);
    }

    [ProviderFact]
    public async Task PhaseTwo_TreatmentEmergentSafetyEvent_IsAnnouncedButNoHold()
    {
        using var smtp = new SmtpReceiver();
        using var hooks = new WebhookReceiver(Secret);
        await using var server = new TrialServer(Database, false, Settings(smtp, hooks), TwoSites);
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        var randomized = (await server.Site().RandomizeAsync(Requests.Randomize("SCR-1"))).Assignment;
        await ProductPath.InfuseAsync(server, randomized.ParticipantId);
        server.Clock.Advance(TimeSpan.FromDays(12));
        var report = await new ParticipantService.ParticipantServiceClient(server.Channel(TrialRole.SiteCoordinator, "UM")).ReportSafetyEventAsync(new ReportSafetyEventRequest
        {
            ParticipantId = randomized.ParticipantId, Type = SafetyEventType.Stroke, Serious = true, OnsetDate = new CalendarDate { Year = 2026, Month = 12, Day = 4 },
        });
        await AllSentAsync(server);

        // Phase II holds nothing by itself (ReportSafetyEvent): the event is announced, a hold is not.
        Assert.True(report.TreatmentEmergent);
        Assert.False(report.EnrolmentOnHold);
        Assert.Contains(NotificationEvents.SafetyEventReported, Events(smtp, "sponsor@example.org"));
        Assert.DoesNotContain(smtp.Messages, m => EventOf(m) == NotificationEvents.SafetyHold);
        Assert.DoesNotContain(hooks.Received, d => d.Event == NotificationEvents.SafetyHold);
        NoMessageStatesATreatment(smtp, hooks);
    }

    [ProviderFact]
    public async Task ReceiversThatFail_AreRetriedWithADoublingDelay_UntilTheyRecover()
    {
        using var smtp = new SmtpReceiver(start: false); // the mail server is down
        using var hooks = new WebhookReceiver(Secret) { FailFirst = 3 };
        await using var server = new TrialServer(Database, false, Settings(smtp, hooks), TwoSites);
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        var participant = (await server.Site().RandomizeAsync(Requests.Randomize("SCR-1"))).Assignment;
        await new UnblindingService.UnblindingServiceClient(server.Channel(server.Token(TrialRole.Investigator, "dr-jones", ["UM"])))
            .EmergencyUnblindAsync(new EmergencyUnblindRequest { ParticipantId = participant.ParticipantId, Reason = "anaphylaxis" });
        const string hook = "\"Recipient\" = 'statisticians'";
        const string mail = "\"Recipient\" = 'sponsor' AND \"Event\" = 'unblinding.emergency'";
        var start = server.Clock.GetUtcNow().ToUnixTimeMilliseconds();

        async Task<(long Attempts, long Next)> RowAsync(string where)
        {
            var row = (await server.QueryAsync($"""SELECT "Attempts", "NextAttemptAtUnixMilliseconds" FROM "OutboxMessages" WHERE {where}"""))[0];
            return (Convert.ToInt64(row[0], System.Globalization.CultureInfo.InvariantCulture), Convert.ToInt64(row[1], System.Globalization.CultureInfo.InvariantCulture));
        }
        // Every message waiting has had this many attempts: the round is over before the clock moves on.
        async Task AttemptsAsync(string where, long attempts)
        {
            await Eventually.HoldsAsync(async () => (await RowAsync(where)).Attempts == attempts, $"attempt {attempts} of {where}");
            await Eventually.HoldsAsync(async () => await CountAsync(server, $"\"SentAtUnixMilliseconds\" IS NULL AND \"Attempts\" < {attempts}") == 0,
                $"attempt {attempts} of every message");
        }

        await AttemptsAsync(hook, 1);
        await AttemptsAsync(mail, 1);
        Assert.Equal(start + 10_000, (await RowAsync(hook)).Next);
        Assert.Equal(start + 10_000, (await RowAsync(mail)).Next);
        await Task.Delay(300);
        Assert.Single(hooks.At("stats")); // not before its time
        server.Clock.Advance(TimeSpan.FromSeconds(10));
        await AttemptsAsync(hook, 2);
        Assert.Equal(start + 30_000, (await RowAsync(hook)).Next); // 10 s, then 20 s
        server.Clock.Advance(TimeSpan.FromSeconds(20));
        await AttemptsAsync(hook, 3);
        Assert.Equal(start + 60_000, (await RowAsync(hook)).Next); // 40 s, capped at 30 s
        smtp.Start(); // both receivers recover
        server.Clock.Advance(TimeSpan.FromSeconds(30));
        await AllSentAsync(server);

        var deliveries = hooks.At("stats").ToList();
        Assert.Equal(4, deliveries.Count);
        Assert.Single(deliveries.Select(d => d.EventId).Distinct());
        Assert.All(deliveries, d => Assert.True(d.SignatureValid));
        Assert.Equal(4, (await RowAsync(hook)).Attempts);
        Assert.Single(smtp.To("sponsor@example.org"), m => EventOf(m) == NotificationEvents.EmergencyUnblinding);
        NoMessageStatesATreatment(smtp, hooks);
    }

    [ProviderFact]
    public async Task TwoDeliveryWorkersAtOnce_SendEachMessageOnce()
    {
        using var smtp = new SmtpReceiver();
        using var hooks = new WebhookReceiver(Secret);
        var settings = Settings(smtp, hooks);
        settings["Notifications:DeliveryEnabled"] = "false"; // the workers below are the only ones
        await using var server = new TrialServer(Database, false, settings, TwoSites);
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        for (var i = 0; i < 6; i++) await server.Site().RandomizeAsync(Requests.Randomize($"SCR-{i}"));
        Assert.Empty(smtp.Messages);

        var workers = Enumerable.Range(0, 2).Select(_ => ActivatorUtilities.CreateInstance<OutboxDelivery>(server.Services)).ToList();
        await Task.WhenAll(workers.Select(w => Task.Run(() => w.RoundAsync(CancellationToken.None))));
        await Task.WhenAll(workers.Select(w => Task.Run(() => w.RoundAsync(CancellationToken.None))));

        Assert.Equal(18, smtp.Messages.Count); // six randomizations to the sponsor, the monitor and the UM investigator
        Assert.Equal(18, smtp.Messages.Select(m => m.Headers["Message-ID"]).Distinct().Count());
        Assert.Equal(0, await CountAsync(server, "\"SentAtUnixMilliseconds\" IS NULL"));
    }

    [ProviderFact]
    public async Task NoRecipients_NoMessages_AndTheOutboxStaysEmpty()
    {
        await using var server = NewServer(TwoSites);
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        await server.Site().RandomizeAsync(Requests.Randomize("SCR-1"));
        Assert.Equal(0, await CountAsync(server, "1 = 1"));
    }
}

public sealed class NotificationTestsOnSqlite : NotificationTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class NotificationTestsOnPostgreSql : NotificationTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class NotificationTestsOnSqlServer : NotificationTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}

/// <summary>Configuration the notifications refuse at start: repository secrets outside Development, unusable recipients.</summary>
public sealed class NotificationSettingsTests
{
    private static Exception StartWith(Dictionary<string, string> settings) =>
        Assert.ThrowsAny<Exception>(() => new TrialServer(TestDatabase.Sqlite, false, settings).DisposeAsync().AsTask().GetAwaiter().GetResult());

    private static Dictionary<string, string> Webhook(string secret) => new()
    {
        ["Notifications:WebhookSecret"] = secret,
        ["Notifications:Recipients:0:Name"] = "dsmb",
        ["Notifications:Recipients:0:Audience"] = "DsmbMember",
        ["Notifications:Recipients:0:Webhook"] = "https://dsmb.example.org/hook",
    };

    [Theory]
    [InlineData(DevelopmentSecrets.WebhookSecret, "Notifications:WebhookSecret or Notifications:Smtp:Password is a development or sample secret")]
    [InlineData(DevelopmentSecrets.SampleWebhookSecret, "Notifications:WebhookSecret or Notifications:Smtp:Password is a development or sample secret")]
    [InlineData("too-short", "Notifications:WebhookSecret (32 or more characters) is required")]
    public void WebhookSecret_FromTheRepositoryOrTooShort_IsRefusedAtStart(string secret, string named)
    {
        var (exitCode, line) = StartupFailure.Describe(StartWith(Webhook(secret)));
        Assert.Equal(StartupFailure.InvalidConfiguration, exitCode);
        Assert.Contains(named, line, StringComparison.Ordinal);
    }

    [Fact]
    public void SmtpPassword_FromTheRepository_IsRefusedAtStart()
    {
        var (exitCode, line) = StartupFailure.Describe(StartWith(new Dictionary<string, string>
        {
            ["Notifications:Smtp:Host"] = "smtp.example.org",
            ["Notifications:Smtp:From"] = "cratus@example.org",
            ["Notifications:Smtp:UserName"] = "cratus",
            ["Notifications:Smtp:Password"] = DevelopmentSecrets.SampleSmtpPassword,
            ["Notifications:Recipients:0:Name"] = "sponsor",
            ["Notifications:Recipients:0:Audience"] = "Sponsor",
            ["Notifications:Recipients:0:Email"] = "sponsor@example.org",
        }));
        Assert.Equal(StartupFailure.InvalidConfiguration, exitCode);
        Assert.Contains("Notifications:Smtp:Password", line, StringComparison.Ordinal);
    }

    [Fact]
    public void SiteRoleRecipientWithoutASite_IsRefusedAtStart()
    {
        var (exitCode, line) = StartupFailure.Describe(StartWith(new Dictionary<string, string>
        {
            ["Notifications:WebhookSecret"] = "a-good-secret-of-forty-characters-000000",
            ["Notifications:Recipients:0:Name"] = "all-investigators",
            ["Notifications:Recipients:0:Audience"] = "Investigator",
            ["Notifications:Recipients:0:Webhook"] = "https://site.example.org/hook",
        }));
        Assert.Equal(StartupFailure.InvalidConfiguration, exitCode);
        Assert.Contains("is a site role and needs a Site", line, StringComparison.Ordinal);
    }

    [Fact]
    public void RetryDelay_DoublesFromTheFirstAndStopsAtTheMaximum()
    {
        var options = new NotificationOptions { FirstRetryDelay = TimeSpan.FromSeconds(30), MaxRetryDelay = TimeSpan.FromMinutes(5) };
        Assert.Equal([30, 60, 120, 240, 300, 300], Enumerable.Range(1, 6).Select(n => OutboxDelivery.RetryDelay(n, options).TotalSeconds));
    }
}
