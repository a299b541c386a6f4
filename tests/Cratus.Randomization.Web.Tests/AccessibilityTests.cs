using Cratus.Randomization.Server.Security;
using Cratus.Randomization.Server.Web;
using Deque.AxeCore.Playwright;

namespace Cratus.Randomization.Web.Tests;

/// <summary>An axe scan of every page, as a role that may open it, in a trial with participants: no serious or
/// critical violation.</summary>
[Collection(UsesBrowser.Name)]
[Trait("Category", "Slow")]
public sealed class AccessibilityTests(BrowserFixture browser)
{
    [Fact]
    public async Task Every_page_has_no_serious_or_critical_accessibility_violation()
    {
        await using var trial = new WebTrial(definitionEdits: PhaseTwoScenario.TwoSites);
        var scenario = await PhaseTwoScenario.SetUpAsync(trial.Server, umCount: 4, jhCount: 2);
        var participant = scenario.At("UM").First().ParticipantId;
        var failures = new List<string>();
        foreach (var role in new[] { TrialRole.Investigator, TrialRole.Pharmacist, TrialRole.Statistician, TrialRole.DsmbMember, TrialRole.Monitor, TrialRole.Administrator })
        {
            var page = await trial.SignInAsync(browser.Browser, role);
            var addresses = WebPages.All.Where(p => p.OpenTo(role)).Select(p => p.Address)
                .Concat(BlindInTheBrowserTests.ParticipantPages.Select(a => string.Format(System.Globalization.CultureInfo.InvariantCulture, a, participant)));
            foreach (var address in addresses)
            {
                if (await trial.OpenAsync(page, address) != 200) continue;
                // The colours a person reads, not those of a transition under way.
                await WebTrial.WhenSettledAsync(page);
                var result = await page.RunAxe();
                failures.AddRange(result.Violations.Where(v => v.Impact is "serious" or "critical")
                    .Select(v => $"{TrialRoles.Title(role)} {address}: {v.Id} ({v.Impact}) {v.Help} at {string.Join(", ", v.Nodes.Take(3).Select(n => n.Html))}"));
            }
            await page.Context.CloseAsync();
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
