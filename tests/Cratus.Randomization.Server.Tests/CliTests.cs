extern alias cli;

using Cratus.Randomization.Server.Security;
using CratusCli = cli::Cratus.Cli.CratusCli;

namespace Cratus.Randomization.Server.Tests;

/// <summary>The command-line client against the real server on loopback: the README walkthrough, as a test.</summary>
public abstract class CliTests : OnEachDatabase
{
    private static async Task<(int Exit, string Output, string Error)> RunAsync(TrialServer server, string token, params string[] args)
    {
        // The token's user has an account with the helpers' password (made when the token was minted), typed at the
        // prompt when a command signs.
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await CratusCli.RunAsync([.. args, "--server", server.Address!, "--token", token], output, error, new StringReader(Signing.Password + "\n"));
        return (exit, output.ToString(), error.ToString());
    }

    private static string Field(string output, string label) =>
        output.Split('\n').Single(l => l.StartsWith(label + " ", StringComparison.Ordinal))[label.Length..].Trim();

    [ProviderFact]
    public async Task Walkthrough_GenerateRandomizeReadAssignmentAndDoseOrder_WorksAndRefusesWhatEachRoleMayNotDo()
    {
        await using var server = NewServer(onLoopback: true);
        var statistician = server.Token(TrialRole.Statistician, "stat-1");
        var site = server.Token(TrialRole.SiteCoordinator, "coord-1", ["UM"]);
        var pharmacist = server.Token(TrialRole.Pharmacist, "pharm-1");

        var generated = await RunAsync(server, statistician, "schedule", "generate", "--reason", "initial schedule", "--meaning", "authorship");
        var randomized = await RunAsync(server, site, "randomize", "--site", "UM", "--screening-id", "SCR-001", "--consent-date", "2026-11-20",
            "--date-of-birth", "1950-03-14", "--sex", "female", "--cfs", "5", "--mmse", "28", "--exclusions", "none");
        var participant = Field(randomized.Output, "Participant");
        var assignment = await RunAsync(server, site, "assignment", participant, "--json");
        var siteDoseOrder = await RunAsync(server, site, "dose-order", participant);
        var doseOrder = await RunAsync(server, pharmacist, "dose-order", participant);
        var commitment = await RunAsync(server, site, "schedule", "commitment");

        Assert.Equal(0, generated.Exit);
        Assert.Equal(64, Field(generated.Output, "Seed").Length);
        Assert.Equal(0, randomized.Exit);
        Assert.Equal("R01-001", Field(randomized.Output, "Randomization number"));
        Assert.Equal(0, assignment.Exit);
        Assert.Contains($"\"participantId\": \"{participant}\"", assignment.Output, StringComparison.Ordinal);
        Assert.Equal(3, siteDoseOrder.Exit);
        Assert.Contains("PermissionDenied", siteDoseOrder.Error, StringComparison.Ordinal);
        Assert.Equal(0, doseOrder.Exit);
        Assert.Matches("^[ABC]$", Field(doseOrder.Output, "Arm"));
        Assert.Equal(Field(generated.Output, "Commitment (SHA-256)"), Field(commitment.Output, "Commitment (SHA-256)"));
        foreach (var blinded in new[] { randomized.Output, assignment.Output, siteDoseOrder.Error })
        {
            Assert.DoesNotContain("placebo", blinded, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("million", blinded, StringComparison.OrdinalIgnoreCase);
        }
    }

    [ProviderFact]
    public async Task Refusal_ThroughTheClient_ShowsTheReasonAndEachViolation_AndARetryWithTheRequestIdGetsTheFirstAnswer()
    {
        await using var server = NewServer(onLoopback: true);
        var site = server.Token(TrialRole.SiteCoordinator, "coord-1", ["UM"]);
        await RunAsync(server, server.Token(TrialRole.Statistician, "stat-1"), "schedule", "generate", "--reason", "initial schedule", "--meaning", "authorship");
        string[] Randomize(string screeningId, string age, string mmse) => ["randomize", "--site", "UM", "--screening-id", screeningId,
            "--consent-date", "2026-11-20", "--age", age, "--sex", "male", "--cfs", "5", "--mmse", mmse, "--exclusions", "none"];
        var requestId = Guid.NewGuid().ToString();

        var ineligible = await RunAsync(server, site, Randomize("SCR-002", "58", "20"));
        var first = await RunAsync(server, site, [.. Randomize("SCR-003", "70", "28"), "--request-id", requestId]);
        var retry = await RunAsync(server, site, [.. Randomize("SCR-003", "70", "28"), "--request-id", requestId]);
        var reused = await RunAsync(server, site, [.. Randomize("SCR-004", "70", "28"), "--request-id", requestId]);

        Assert.Equal(5, ineligible.Exit);
        Assert.Contains("(FailedPrecondition, PARTICIPANT_INELIGIBLE)", ineligible.Error, StringComparison.Ordinal);
        Assert.Contains("  eligibility.age_at_consent_years: age at consent 58 is below the minimum of 60", ineligible.Error, StringComparison.Ordinal);
        Assert.Contains("  eligibility.mmse_score: MMSE score 20", ineligible.Error, StringComparison.Ordinal);
        Assert.Equal(0, first.Exit);
        Assert.Equal(first.Output, retry.Output);
        Assert.Equal(5, reused.Exit);
        Assert.Contains("REQUEST_ID_REUSED", reused.Error, StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task EmergencyAndControlledUnblinding_ThroughTheClient_WorkEndToEndAndShowInTheAuditTrail()
    {
        await using var server = NewServer(onLoopback: true);
        var statistician1 = server.Token(TrialRole.Statistician, "stat-1");
        var statistician2 = server.Token(TrialRole.Statistician, "stat-2");
        var site = server.Token(TrialRole.SiteCoordinator, "coord-1", ["UM"]);
        var investigator = server.Token(TrialRole.Investigator, "dr-jones", ["UM"]);
        var monitor = server.Token(TrialRole.Monitor, "monitor-1");
        var pharmacist = server.Token(TrialRole.Pharmacist, "pharm-1");
        await RunAsync(server, statistician1, "schedule", "generate", "--reason", "initial", "--meaning", "authorship");
        var participants = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var r = await RunAsync(server, site, "randomize", "--site", "UM", "--screening-id", $"SCR-{i}", "--consent-date", "2026-11-20",
                "--age", "75", "--sex", "male", "--cfs", "5", "--mmse", "28", "--exclusions", "none");
            participants.Add(Field(r.Output, "Participant"));
        }
        var arm0 = Field((await RunAsync(server, pharmacist, "dose-order", participants[0])).Output, "Arm");
        var arm1 = Field((await RunAsync(server, pharmacist, "dose-order", participants[1])).Output, "Arm");

        var emergency = await RunAsync(server, investigator, "emergency-unblind", participants[0], "--reason", "anaphylaxis in the ER", "--meaning", "responsibility");
        var requested = await RunAsync(server, statistician1, "unblinding", "request", "--scope", "participant", "--participant", participants[1], "--reason", "SAE report");
        var requestId = Field(requested.Output, "Unblinding request");
        var selfApproval = await RunAsync(server, statistician1, "unblinding", "approve", requestId, "--reason", "mine", "--meaning", "approval");
        var approved = await RunAsync(server, statistician2, "unblinding", "approve", requestId, "--reason", "justified", "--meaning", "approval");
        var shown = await RunAsync(server, statistician1, "unblinding", "show", requestId);
        var listed = await RunAsync(server, statistician2, "unblinding", "list");
        var trail = await RunAsync(server, monitor, "audit", "list", "--page-size", "100");
        var verified = await RunAsync(server, monitor, "audit", "verify");
        var head = Field(verified.Output, "Head (record this)");
        var reverified = await RunAsync(server, monitor, "audit", "verify", "--head", head);

        Assert.Equal(0, emergency.Exit);
        Assert.Equal(arm0, Field(emergency.Output, "Arm"));
        Assert.Equal(0, requested.Exit);
        Assert.Equal(3, selfApproval.Exit);
        Assert.Contains("different statistician", selfApproval.Error, StringComparison.Ordinal);
        Assert.Equal(0, approved.Exit);
        Assert.Equal("approved", Field(approved.Output, "Status"));
        Assert.Equal(0, shown.Exit);
        var row = shown.Output.Split('\n').Single(l => l.StartsWith(participants[1], StringComparison.Ordinal));
        Assert.Contains($" {arm1} ", row, StringComparison.Ordinal);
        Assert.Contains(requestId, listed.Output, StringComparison.Ordinal);
        // The manifestation is shown wherever the signed record is: the approval, the list, the audit trail.
        var signature = "Signed by Signer stat-2 (stat-2, statistician) on ";
        Assert.Contains(signature, Field(approved.Output, "Electronic signature"), StringComparison.Ordinal);
        Assert.Contains("meaning: approval", Field(approved.Output, "Electronic signature"), StringComparison.Ordinal);
        Assert.Contains(signature, listed.Output, StringComparison.Ordinal);
        Assert.Contains(signature, trail.Output, StringComparison.Ordinal);
        Assert.Contains("Signed by Signer dr-jones (dr-jones, investigator) on ", trail.Output, StringComparison.Ordinal);
        Assert.Contains("meaning: responsibility", trail.Output, StringComparison.Ordinal);
        Assert.Equal(0, trail.Exit);
        Assert.Contains("unblinding.emergency", trail.Output, StringComparison.Ordinal);
        Assert.Contains("anaphylaxis in the ER", trail.Output, StringComparison.Ordinal);
        Assert.Contains("dr-jones", trail.Output, StringComparison.Ordinal);
        foreach (var action in new[] { "unblinding.requested", "unblinding.approved", "unblinding.allocations_read" })
            Assert.Contains(action, trail.Output, StringComparison.Ordinal);
        Assert.Equal("yes", Field(verified.Output, "Intact"));
        Assert.Equal(0, reverified.Exit);
        Assert.Equal("yes", Field(reverified.Output, "Extends recorded head"));
    }

    [ProviderFact]
    public async Task AuditIntegrity_SignedHeadChecksOfflineAndTamperedAllocationsExit7()
    {
        await using var server = NewServer(onLoopback: true);
        var monitor = server.Token(TrialRole.Monitor, "monitor-1");
        await RunAsync(server, server.Token(TrialRole.Statistician, "stat-1"), "schedule", "generate", "--reason", "initial", "--meaning", "authorship");
        var site = server.Token(TrialRole.SiteCoordinator, "coord-1", ["UM"]);
        foreach (var screening in new[] { "SCR-1", "SCR-2" })
            await RunAsync(server, site, "randomize", "--site", "UM", "--screening-id", screening, "--consent-date", "2026-11-20",
                "--age", "75", "--sex", "male", "--cfs", "5", "--mmse", "28", "--exclusions", "none");
        var publicKeyFile = Path.Combine(server.Folder, "head-key.pem");

        var verified = await RunAsync(server, monitor, "audit", "verify", "--public-key-out", publicKeyFile);
        var head = Field(verified.Output, "Head (record this)");
        var signature = Field(verified.Output, "Head signature");
        // Offline: no server is asked (an address nobody listens on would fail the call).
        var offline = await CratusCli.RunAsync(["audit", "check-head", "--public-key", publicKeyFile, "--head", head, "--signature", signature,
            "--server", "http://127.0.0.1:9"], new StringWriter(), new StringWriter());
        var otherHead = head.Split(':')[0] + ":" + new string('0', 64);
        var wrongHead = await CratusCli.RunAsync(["audit", "check-head", "--public-key", publicKeyFile, "--head", otherHead, "--signature", signature,
            "--server", "http://127.0.0.1:9"], new StringWriter(), new StringWriter());
        var intact = await RunAsync(server, monitor, "audit", "verify-allocations");
        await server.ExecuteSqlAsync("""UPDATE "Participants" SET "Stratum" = 'UM/F' WHERE "ScreeningId" = 'SCR-2'""");
        var tampered = await RunAsync(server, monitor, "audit", "verify-allocations");

        Assert.Equal(0, verified.Exit);
        Assert.Contains("BEGIN PUBLIC KEY", await File.ReadAllTextAsync(publicKeyFile), StringComparison.Ordinal);
        Assert.Equal(0, offline);
        Assert.Equal(7, wrongHead);
        Assert.Equal(0, intact.Exit);
        Assert.Equal("yes", Field(intact.Output, "Intact"));
        Assert.Equal(7, tampered.Exit);
        Assert.Equal("1", Field(tampered.Output, "Failures"));
    }

    [ProviderFact]
    public async Task BootstrapLoginAndUsers_ThroughTheClient_KeepTheSessionInAPrivateFile()
    {
        await using var server = NewServer(onLoopback: true);
        var sessionFile = Path.Combine(server.Folder, "profile", "session.json");
        Environment.SetEnvironmentVariable("CRATUS_TOKEN_FILE", sessionFile);
        try
        {
            async Task<(int Exit, string Output, string Error)> Run(params string[] args)
            {
                var output = new StringWriter();
                var error = new StringWriter();
                var exit = await CratusCli.RunAsync([.. args, "--server", server.Address!, "--issuer", server.WebAddress!], output, error, new StringReader(""));
                return (exit, output.ToString(), error.ToString());
            }

            var bootstrap = await Run("bootstrap", "--secret", server.BootstrapSecret, "--user", "alice", "--full-name", "Alice Admin", "--password", "alice-password-123");
            var login = await Run("login", "--user", "alice", "--password", "alice-password-123");
            var created = await Run("users", "create", "bob", "--full-name", "Bob Coordinator", "--role", "site_coordinator", "--site", "UM", "--reason", "new coordinator");
            var users = await Run("users", "list");
            var wrong = await Run("login", "--user", "bob", "--password", "not-his-password");

            Assert.Equal(0, bootstrap.Exit);
            Assert.Equal(0, login.Exit);
            if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(sessionFile));
            Assert.Equal(0, created.Exit);
            Assert.NotEmpty(Field(created.Output, "First password"));
            Assert.Matches(@"bob\s+Bob Coordinator\s+site_coordinator\s+UM\s+yes", users.Output);
            Assert.Equal(3, wrong.Exit);
        }
        finally
        {
            Environment.SetEnvironmentVariable("CRATUS_TOKEN_FILE", null);
        }
    }

    [ProviderFact]
    public async Task PhaseOne_ThroughTheClient_EnrolInfuseReportDecideAndShowTheCohortTable()
    {
        await using var server = NewServer(true, null, ("", "")); // the shipped definition: Phase I first
        var site = server.Token(TrialRole.SiteCoordinator, "coord-1", ["UM"]);
        var dsmb = server.Token(TrialRole.DsmbMember, "dsmb-chair");
        var participants = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var enrolled = await RunAsync(server, site, "enrol", "--site", "UM", "--screening-id", $"PH1-{i}", "--consent-date", "2026-11-20",
                "--age", "72", "--sex", "female", "--cfs", "5", "--mmse", "27", "--exclusions", "none");
            Assert.Equal(0, enrolled.Exit);
            Assert.Equal("1", Field(enrolled.Output, "Cohort"));
            Assert.StartsWith("20 million allo-hMSCs", Field(enrolled.Output, "Dose"), StringComparison.Ordinal);
            participants.Add(Field(enrolled.Output, "Participant"));
            if (i == 0)
            {
                // The pharmacy's path through the client: prepare (signed), a second pharmacist's check (signed), the
                // label, dispatch; then the site's bedside check. Only then is the infusion accepted.
                var units = await ProductPath.ReleasedUnitsAsync(server, 1, 25_000_000);
                var pharmacist = server.Token(TrialRole.Pharmacist);
                var refused = await RunAsync(server, site, "infusion", participants[^1], "--at", server.Clock.GetUtcNow().ToString("O"));
                var prepared = await RunAsync(server, pharmacist, "pharmacy", "prepare", participants[^1], "--unit", units[0], "--post-thaw-cells", "24000000",
                    "--viability", "91.5", "--final-cells", "20000000", "--volume-ml", "20", "--meaning", "authorship");
                var product = Field(prepared.Output, "Product id");
                var ownCheck = await RunAsync(server, pharmacist, "pharmacy", "verify", product, "--meaning", "review");
                var check = await RunAsync(server, server.Token(TrialRole.Pharmacist, ProductPath.SecondPharmacist), "pharmacy", "verify", product, "--meaning", "review");
                var label = await RunAsync(server, pharmacist, "pharmacy", "label", product);
                var dispatched = await RunAsync(server, pharmacist, "pharmacy", "dispatch", product, "--courier", "courier J. Smith");
                var wrongParticipant = await RunAsync(server, site, "bedside", "verify", product, "--participant", "P-NOTTHISONE");
                var bedside = await RunAsync(server, site, "bedside", "verify", product, "--participant", participants[^1]);
                Assert.NotEqual(0, refused.Exit);
                Assert.Contains("BEDSIDE_VERIFICATION_REQUIRED", refused.Error, StringComparison.Ordinal);
                Assert.Equal(0, prepared.Exit);
                Assert.Matches("^CP-[0-9A-Z]{10}$", product);
                Assert.NotEqual(0, ownCheck.Exit);
                Assert.Contains("SECOND_PHARMACIST_REQUIRED", ownCheck.Error, StringComparison.Ordinal);
                Assert.Equal(0, check.Exit);
                Assert.Equal("Verified", Field(check.Output, "State"));
                Assert.Equal(product, Field(label.Output, "Product id"));
                Assert.Equal("Dispatched", Field(dispatched.Output, "State"));
                Assert.NotEqual(0, wrongParticipant.Exit);
                Assert.Equal(0, bedside.Exit);
                Assert.StartsWith("VERIFIED", Field(bedside.Output, "Result"), StringComparison.Ordinal);
            }
            else
            {
                await ProductPath.VerifiedAtBedsideAsync(server, participants[^1]);
            }
            var infused = await RunAsync(server, site, "infusion", participants[^1], "--at", server.Clock.GetUtcNow().ToString("O"));
            Assert.Equal(0, infused.Exit);
        }

        var safety = await RunAsync(server, site, "safety-event", participants[0], "--type", "stroke", "--onset", "2026-11-22");
        var held = await RunAsync(server, site, "escalation", "status");
        var siteDecision = await RunAsync(server, site, "dsmb-decision", "continue", "--reason", "not ours to decide", "--meaning", "approval");
        var decided = await RunAsync(server, dsmb, "dsmb-decision", "continue", "--reason", "unrelated to the product", "--meaning", "approval");
        var status = await RunAsync(server, site, "escalation", "status");

        Assert.Equal("yes", Field(safety.Output, "Enrolment on hold"));
        Assert.Contains("Blocking: Enrolment is on hold", held.Output, StringComparison.Ordinal);
        Assert.Equal(3, siteDecision.Exit);
        Assert.Equal(0, decided.Exit);
        Assert.Matches(@"1\s+20 million allo-hMSCs\s+open\s+2/5\s+2\s+0", status.Output);
        Assert.Matches(@"2\s+100 million allo-hMSCs\s+not opened\s+0/5", status.Output);
        Assert.Contains("Enrolment: open (cohort 1)", status.Output, StringComparison.Ordinal);
        Assert.Contains("DSMB: ", status.Output, StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task Randomize_Ineligible_ExitsNonZeroNamingTheCriteria()
    {
        await using var server = NewServer(onLoopback: true);
        await RunAsync(server, server.Token(TrialRole.Statistician), "schedule", "generate", "--reason", "initial", "--meaning", "authorship");

        var result = await RunAsync(server, server.Token(TrialRole.SiteCoordinator, sites: ["UM"]), "randomize", "--site", "UM", "--screening-id", "SCR-002",
            "--consent-date", "2026-11-20", "--age", "58", "--sex", "male", "--cfs", "5", "--mmse", "28", "--exclusions", "recent-malignancy");

        Assert.Equal(5, result.Exit);
        Assert.Contains("age at consent 58", result.Error, StringComparison.Ordinal);
        Assert.Contains("recent-malignancy", result.Error, StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task Randomize_BadDate_ExitsNonZeroWithoutCallingTheServer()
    {
        await using var server = NewServer(onLoopback: true);

        var result = await RunAsync(server, server.Token(TrialRole.SiteCoordinator, sites: ["UM"]), "randomize", "--site", "UM", "--screening-id", "SCR-003",
            "--consent-date", "20/11/2026", "--age", "70", "--sex", "male", "--cfs", "5", "--mmse", "28", "--exclusions", "none");

        Assert.Equal(2, result.Exit);
        Assert.Contains("--consent-date must be a date", result.Error, StringComparison.Ordinal);
    }
}

public sealed class CliTestsOnSqlite : CliTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class CliTestsOnPostgreSql : CliTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class CliTestsOnSqlServer : CliTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
