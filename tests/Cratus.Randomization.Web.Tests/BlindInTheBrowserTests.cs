using Cratus.Randomization.Server.Security;
using Cratus.Randomization.Server.Web;

namespace Cratus.Randomization.Web.Tests;

/// <summary>
/// The blind, in the browser: signed in as each blinded role in a trial with its 30 Phase II participants (one of them
/// emergency-unblinded, a DSMB aggregate unblinding approved), every page the role can reach, every participant page
/// of its sites, and what each of them sends the browser, name no arm, dose, cell count or placebo.
/// </summary>
[Collection(UsesBrowser.Name)]
[Trait("Category", "Slow")]
public sealed class BlindInTheBrowserTests(BrowserFixture browser)
{
    /// <summary>The pages reached from others, per participant.</summary>
    public static readonly string[] ParticipantPages =
        ["/participants/{0}", "/participants/{0}/confirmation", "/pharmacy/orders/{0}", "/pharmacy/orders/{0}/label"];

    [Fact]
    public void The_detector_catches_treatments_and_lets_identifiers_pass()
    {
        foreach (var leak in new[] { "\"armCode\": \"A\"", "arm C", "Arm: B", "matched placebo", "100 million", "200,000,000", "100000000", "allo-hMSCs" })
            Assert.Matches(Blind.Treatment(), leak);
        foreach (var harmless in new[] { "R01-001", "P-4TABMY0XCA", "alarm", "participant.randomized", "K-AG8WRYABGC", "Randomize (Phase II)", "charmed" })
            Assert.DoesNotMatch(Blind.Treatment(), harmless);
    }

    [Fact]
    public async Task No_blinded_role_sees_a_treatment_on_any_page_it_can_reach()
    {
        await using var trial = new WebTrial(definitionEdits: PhaseTwoScenario.TwoSites);
        var scenario = await PhaseTwoScenario.SetUpAsync(trial.Server);
        foreach (var role in new[] { TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.Monitor, TrialRole.Administrator })
        {
            var page = await trial.SignInAsync(browser.Browser, role);
            var blind = new Blind();
            blind.Watch(page);

            var opened = 0;
            foreach (var webPage in WebPages.All)
            {
                var status = await trial.OpenAsync(page, webPage.Address);
                Assert.True((webPage.OpenTo(role) ? 200 : 403) == status, $"{TrialRoles.Title(role)} at {webPage.Address}: status {status}");
                await blind.RecordAsync(page);
                opened += status == 200 ? 1 : 0;
            }
            // Participant pages: UM's (the emergency-unblinded one first), and one of JH's.
            foreach (var participant in scenario.At("UM").Take(5).Append(scenario.At("JH").First()))
                foreach (var address in ParticipantPages)
                {
                    await trial.OpenAsync(page, string.Format(System.Globalization.CultureInfo.InvariantCulture, address, participant.ParticipantId));
                    await blind.RecordAsync(page);
                }

            Assert.True(opened >= 2, "the role opened its pages");
            Assert.Contains(blind.Seen, s => s.Where == "circuit message");
            // The check saw real data: the participants, for the roles that list them.
            if (Server.Application.Permissions.Of(typeof(Server.Application.Participants.ListParticipants)).Allows(role))
                Assert.Contains(blind.Seen, s => s.Text.Contains(scenario.At("UM").First().ParticipantId, StringComparison.Ordinal));
            blind.AssertNothingNamesATreatment(TrialRoles.Title(role));
            await page.Context.CloseAsync();
        }
    }
}
