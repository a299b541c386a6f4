using System.Text;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Microsoft.Playwright;
using static Cratus.Randomization.Web.Tests.StatisticianSteps;

namespace Cratus.Randomization.Web.Tests;

[Collection(UsesBrowser.Name)]
[Trait("Category", "Slow")]
public sealed class SchedulePagesTests(BrowserFixture browser)
{
    /// <summary>A list that passes every check, as the server's schedule tests build it: both strata of UM, 30 entries each, blocks of 3 and 6.</summary>
    private static string ValidCsv()
    {
        var lines = new StringBuilder("stratum,sequence,randomization_number,arm\n");
        foreach (var (stratum, prefix) in new[] { ("UM/F", "F"), ("UM/M", "M") })
        {
            var pattern = new[] { "A", "C", "B", "B", "A", "C" };
            for (var i = 1; i <= 30; i++) lines.Append($"{stratum},{i},{prefix}{i:D3},{pattern[(i - 1) % 6]}\n");
        }
        return lines.ToString();
    }

    private static FilePayload Csv(string name, string text) => new() { Name = name, MimeType = "text/csv", Buffer = Encoding.UTF8.GetBytes(text) };

    [Fact]
    public async Task A_statistician_generates_the_schedule_with_an_e_signature_and_its_commitment_is_the_published_one()
    {
        await using var trial = new WebTrial();
        var page = await trial.SignInAsync(browser.Browser, TrialRole.Statistician, "stat-gen");

        await page.GotoAsync(trial.Address + "/schedule");
        Assert.Contains("Not in place", await page.GetByTestId("schedule-state").InnerTextAsync());
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("schedule-not-in-place"), FullPage = true });

        await FillAsync(page, "generate-reason", "Phase II schedule, per the SAP");
        await page.GetByTestId("generate").ClickAsync();
        await SignAsync(page);
        var commitment = (await page.GetByTestId("commitment").InnerTextAsync()).Trim();

        var published = await trial.Server.Trial(TrialRole.SiteCoordinator).GetScheduleCommitmentAsync(new GetScheduleCommitmentRequest());
        Assert.Equal(published.Sha256Hex, commitment);
        Assert.Contains(published.CanonicalForm, await page.GetByTestId("committed-at").InnerTextAsync());
        Assert.Matches("^[0-9a-f]{64}$", (await page.GetByTestId("seed").InnerTextAsync()).Trim());
        // Signed by the statistician who generated it, for the trial.
        var events = await trial.Server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "schedule.generated" });
        var generated = Assert.Single(events.Events);
        Assert.Equal("stat-gen", generated.User);
        Assert.Equal(Signing.FullNameOf("stat-gen"), generated.Signature.FullName);
        Assert.Equal(SignedAction.ScheduleGeneration, generated.Signature.Action);
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("schedule"), FullPage = true });
    }

    [Fact]
    public async Task An_import_shows_each_problem_at_its_line_and_imports_nothing_then_a_valid_list_is_previewed_signed_and_imported()
    {
        await using var trial = new WebTrial();
        var page = await trial.SignInAsync(browser.Browser, TrialRole.Statistician, "stat-imp");
        await page.GotoAsync(trial.Address + "/schedule");

        // Line 3 lacks its arm, line 5 has a sequence that is not a number (line 1 is the header).
        var broken = ValidCsv().Replace("UM/F,2,F002,C\n", "UM/F,2,F002\n", StringComparison.Ordinal)
            .Replace("UM/F,4,F004,B\n", "UM/F,four,F004,B\n", StringComparison.Ordinal);
        await page.GetByTestId("csv-file").SetInputFilesAsync(Csv("broken.csv", broken));
        var problems = page.GetByTestId("import-problem");
        await problems.First.WaitForAsync();
        Assert.Equal(2, await problems.CountAsync());
        Assert.Equal("3", await problems.Nth(0).GetAttributeAsync("data-line"));
        Assert.Contains("expected 4 values, found 3", await problems.Nth(0).InnerTextAsync());
        Assert.Equal("5", await problems.Nth(1).GetAttributeAsync("data-line"));
        Assert.Contains("sequence 'four'", await problems.Nth(1).InnerTextAsync());
        Assert.Equal(0, await page.GetByTestId("import").CountAsync());
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("schedule-import-errors"), FullPage = true });
        Assert.False((await trial.Server.Trial().GetTrialAsync(new GetTrialRequest())).ScheduleInPlace);

        // A list that parses but breaks a whole-list rule (an unbalanced block) is named too, and still not importable.
        var unbalanced = ValidCsv().Replace("UM/F,1,F001,A\n", "UM/F,1,F001,B\n", StringComparison.Ordinal);
        await page.GetByTestId("csv-file").SetInputFilesAsync(Csv("unbalanced.csv", unbalanced));
        await page.GetByTestId("import-problem").Filter(new() { HasText = "complete blocks" }).WaitForAsync();
        Assert.Equal(0, await page.GetByTestId("import").CountAsync());

        var valid = ValidCsv();
        await page.GetByTestId("csv-file").SetInputFilesAsync(Csv("schedule.csv", valid));
        await page.GetByTestId("preview-ok").WaitForAsync();
        Assert.Equal(0, await page.GetByTestId("import-problem").CountAsync());
        foreach (var stratum in new[] { "UM/F", "UM/M" })
        {
            var row = await page.Locator($"[data-testid=balance-row][data-stratum='{stratum}']").InnerTextAsync();
            Assert.Equal([stratum, "30", "10", "10", "10"], row.Split('\t', '\n').Select(c => c.Trim()).Where(c => c.Length > 0).ToArray());
        }
        Assert.Contains(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(valid))),
            await page.GetByTestId("preview-summary").InnerTextAsync());
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("schedule-import-preview"), FullPage = true });

        await FillAsync(page, "import-reason", "statistician's list v1");
        await page.GetByTestId("import").ClickAsync();
        await SignAsync(page);
        var commitment = (await page.GetByTestId("commitment").InnerTextAsync()).Trim();

        var published = await trial.Server.Trial().GetScheduleCommitmentAsync(new GetScheduleCommitmentRequest());
        Assert.Equal(published.Sha256Hex, commitment);
        var events = await trial.Server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "schedule.imported" });
        Assert.Equal("stat-imp", Assert.Single(events.Events).User);
        Assert.Equal(0, await page.GetByTestId("csv-file").CountAsync());
    }

    [Fact]
    public async Task A_blinded_role_cannot_open_the_schedule_page()
    {
        await using var trial = new WebTrial();
        var page = await trial.SignInAsync(browser.Browser, TrialRole.Monitor, "monitor-1");
        var response = await page.GotoAsync(trial.Address + "/schedule");
        Assert.Equal(403, response!.Status);
        Assert.Equal(0, await page.GetByTestId("schedule-state").CountAsync());
    }

    [Fact]
    public async Task After_randomization_began_a_statistician_adds_a_site_with_a_new_seed_signed_and_the_chain_shows_on_the_page()
    {
        await using var trial = new WebTrial();
        await trial.Server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        var first = (await trial.Server.Site().RandomizeAsync(Requests.Randomize("SCR-1"))).Assignment;
        var original = await trial.Server.Trial(TrialRole.SiteCoordinator).GetScheduleCommitmentAsync(new GetScheduleCommitmentRequest());
        var page = await trial.SignInAsync(browser.Browser, TrialRole.Statistician, "stat-amend");
        await page.GotoAsync(trial.Address + "/schedule");

        await FillAsync(page, "amend-site-code", "NEW");
        await FillAsync(page, "amend-site-name", "New Site Hospital");
        await page.GetByTestId("amend-preview").ClickAsync();
        Assert.Contains("NEW/F", await page.GetByTestId("amend-preview-summary").InnerTextAsync());
        Assert.Empty(await page.GetByTestId("amend-problem").AllInnerTextsAsync());
        await FillAsync(page, "amend-reason", "Protocol amendment 2: a second site");
        await page.GetByTestId("amend-sign").ClickAsync();
        await SignAsync(page);
        Assert.Matches("[0-9a-f]{64}", await page.GetByTestId("amend-seed").InnerTextAsync());

        var latest = await trial.Server.Trial(TrialRole.SiteCoordinator).GetScheduleCommitmentAsync(new GetScheduleCommitmentRequest());
        Assert.Equal(2, latest.Chain.Count);
        Assert.Equal(original.Sha256Hex, latest.Chain[1].PreviousSha256Hex);
        Assert.Contains(latest.Sha256Hex, await page.GetByTestId("amend-receipt").InnerTextAsync());
        Assert.Contains("site NEW", await page.GetByTestId("chain-link").First.InnerTextAsync());
        var amended = Assert.Single((await trial.Server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "schedule.amended" })).Events);
        Assert.Equal(Signing.FullNameOf("stat-amend"), amended.Signature.FullName);
        // Nothing already allocated moved: the first participant keeps the number, and the new site randomizes.
        Assert.Equal(first.RandomizationNumber,
            (await trial.Server.Site().GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = first.ParticipantId })).Assignment.RandomizationNumber);
        Assert.Equal("NEW", (await trial.Server.Site("NEW").RandomizeAsync(Requests.Randomize("NEW-1", site: "NEW"))).Assignment.SiteCode);
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("schedule-amendment"), FullPage = true });
    }
}
