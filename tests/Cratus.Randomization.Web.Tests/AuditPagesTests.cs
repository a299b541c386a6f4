using System.Text.RegularExpressions;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Microsoft.Playwright;
using static Cratus.Randomization.Web.Tests.StatisticianSteps;

namespace Cratus.Randomization.Web.Tests;

[Collection(UsesBrowser.Name)]
[Trait("Category", "Slow")]
public sealed partial class AuditPagesTests(BrowserFixture browser)
{
    [GeneratedRegex(@"\barm\b|placebo|million|allo-hMSC|cell", RegexOptions.IgnoreCase)]
    private static partial Regex Unblinded();

    [Fact]
    public async Task A_monitor_filters_and_pages_the_blinded_trail_and_verifies_the_chain_and_the_allocations()
    {
        await using var trial = new WebTrial();
        await trial.Server.As(TrialRole.Statistician).Schedule.GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        var participants = new List<string>();
        for (var i = 1; i <= 8; i++)
            participants.Add((await trial.Server.Site("UM").RandomizeAsync(Requests.Randomize($"S-{i}", i % 2 == 0 ? Sex.Male : Sex.Female))).Assignment.ParticipantId);

        var page = await trial.SignInAsync(browser.Browser, TrialRole.Monitor, "monitor-1");
        await page.GotoAsync(trial.Address + "/audit");
        await page.GetByTestId("event-sequence").First.WaitForAsync();

        // Paging on the server: the second page starts after the first page's last event.
        var all = (await trial.Server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 500 })).Events;
        Assert.True(all.Count > 10, $"only {all.Count} events");
        await ChooseAsync(page, "page-size", "10");
        await page.GetByTestId("apply-filters").ClickAsync();
        await Assertions.Expect(page.GetByTestId("event-sequence")).ToHaveCountAsync(10);
        await Assertions.Expect(page.GetByTestId("event-sequence").First).ToHaveTextAsync(all[0].Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await page.GetByTestId("next-page").ClickAsync();
        await page.GetByTestId("page-number").Filter(new() { HasText = "Page 2" }).WaitForAsync();
        await Assertions.Expect(page.GetByTestId("event-sequence").First).ToHaveTextAsync(all[10].Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await page.GetByTestId("previous-page").ClickAsync();
        await page.GetByTestId("page-number").Filter(new() { HasText = "Page 1" }).WaitForAsync();
        await Assertions.Expect(page.GetByTestId("event-sequence").First).ToHaveTextAsync(all[0].Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // Filtered by action: the randomizations only, blinded.
        await ChooseAsync(page, "page-size", "25");
        await ChooseAsync(page, "filter-action", "participant.randomized");
        await page.GetByTestId("apply-filters").ClickAsync();
        await Assertions.Expect(page.GetByTestId("event-action").Filter(new() { HasNotText = "participant.randomized" })).ToHaveCountAsync(0);
        await Assertions.Expect(page.GetByTestId("event-action")).ToHaveCountAsync(participants.Count);
        var actions = await page.GetByTestId("event-action").AllInnerTextsAsync();
        Assert.Equal(participants.Count, actions.Count);
        Assert.All(actions, a => Assert.Equal("participant.randomized", a.Trim()));
        foreach (var details in await page.GetByTestId("event-details").AllInnerTextsAsync())
            Assert.DoesNotMatch(Unblinded(), details);
        Assert.DoesNotMatch(Unblinded(), await page.Locator("[data-testid=events]").InnerTextAsync());
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("audit"), FullPage = true });

        // And by target: one participant's events.
        await FillAsync(page, "filter-target", participants[3]);
        await page.GetByTestId("apply-filters").ClickAsync();
        await Assertions.Expect(page.GetByTestId("event-target")).ToHaveCountAsync(1);
        await Assertions.Expect(page.GetByTestId("event-target")).ToHaveTextAsync(participants[3]);

        // The schedule's signed generation shows its signature.
        await ChooseAsync(page, "filter-action", "schedule.generated");
        await FillAsync(page, "filter-target", "");
        await page.GetByTestId("apply-filters").ClickAsync();
        await page.GetByTestId("event-signature").WaitForAsync();
        Assert.Contains("meaning", await page.GetByTestId("event-signature").InnerTextAsync());

        // Verify the chain: intact, and the head the page shows is the one the service signs through gRPC.
        await page.GetByTestId("verify-chain").ClickAsync();
        var result = page.GetByTestId("chain-result");
        await result.WaitForAsync();
        Assert.Equal("true", await result.GetAttributeAsync("data-intact"));
        var verified = await trial.Server.As(TrialRole.Monitor).Audit.VerifyAuditTrailAsync(new VerifyAuditTrailRequest());
        Assert.True(verified.Intact);
        Assert.Equal(verified.Head.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture), (await page.GetByTestId("head-sequence").InnerTextAsync()).Trim());
        Assert.Equal(verified.Head.Hash, (await page.GetByTestId("head-hash").InnerTextAsync()).Trim());
        // The statement exactly as signed (line breaks and all), so a monitor can check the signature offline.
        Assert.Equal(verified.HeadSignature.Statement, await page.GetByTestId("head-statement").TextContentAsync());
        Assert.Equal(verified.HeadSignature.KeyId, (await page.GetByTestId("head-key-id").InnerTextAsync()).Trim());
        Assert.True(await page.GetByTestId("copy-head").IsVisibleAsync());

        // A head recorded earlier is checked too.
        await FillAsync(page, "expected-sequence", verified.Head.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await FillAsync(page, "expected-hash", verified.Head.Hash);
        await page.GetByTestId("verify-chain").ClickAsync();
        await page.GetByTestId("chain-result").Filter(new() { HasText = "extends the head you recorded" }).WaitForAsync();

        await page.GetByTestId("verify-allocations").ClickAsync();
        var allocations = page.GetByTestId("allocations-result");
        await allocations.WaitForAsync();
        Assert.Equal("true", await allocations.GetAttributeAsync("data-intact"));
        Assert.Contains($"{participants.Count} participants", await allocations.InnerTextAsync());
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("audit-verify"), FullPage = true });

        var everything = await EverythingAsync(page);
        Assert.DoesNotContain("placebo", everything, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("million", everything, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("allo-hMSC", everything, StringComparison.OrdinalIgnoreCase);

        // The monitor's blinded listing.
        await page.GotoAsync(trial.Address + "/participants");
        await page.GetByText(participants[0]).WaitForAsync();
        var listing = await EverythingAsync(page);
        Assert.DoesNotContain("placebo", listing, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("million", listing, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_site_coordinator_cannot_open_the_audit_trail()
    {
        await using var trial = new WebTrial();
        var page = await trial.SignInAsync(browser.Browser, TrialRole.SiteCoordinator, "coord-um", ["UM"]);
        var response = await page.GotoAsync(trial.Address + "/audit");
        Assert.Equal(403, response!.Status);
        Assert.Equal(0, await page.GetByTestId("events").CountAsync());
    }
}
