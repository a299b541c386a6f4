using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Microsoft.Playwright;
using static Cratus.Randomization.Web.Tests.StatisticianSteps;

namespace Cratus.Randomization.Web.Tests;

/// <summary>The participant page for Phase II: infusion, safety event, withdrawal, and marking randomized in error (signed); blinded throughout.</summary>
[Collection(UsesBrowser.Name)]
[Trait("Category", "Slow")]
public sealed class CorrectionsPagesTests(BrowserFixture browser)
{
    [Fact]
    public async Task Investigator_records_infusion_and_a_safety_event_then_marks_randomized_in_error_and_signs_the_list_shows_the_flags_and_no_arm()
    {
        await using var trial = new WebTrial();
        await trial.Server.As(TrialRole.Statistician).Schedule.GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        var a = (await trial.Server.Site("UM").RandomizeAsync(Requests.Randomize("S-A", Sex.Female))).Assignment;
        var b = (await trial.Server.Site("UM").RandomizeAsync(Requests.Randomize("S-B", Sex.Male))).Assignment;
        var armOfA = (await trial.Server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = a.ParticipantId })).ArmCode;

        await ProductPath.VerifiedAtBedsideAsync(trial.Server, a.ParticipantId); // the infusion gate
        var page = await trial.SignInAsync(browser.Browser, TrialRole.Investigator, "investigator-um", ["UM"]);
        await page.GotoAsync(trial.Address + $"/participants/{a.ParticipantId}");
        await page.GetByTestId("participant").WaitForAsync();
        // A minute after the randomization (the test's clock stands still), typed in the trial's time zone.
        var infusedAt = TimeZoneInfo.ConvertTime(trial.Server.Clock.GetUtcNow().AddMinutes(1), TimeZoneInfo.FindSystemTimeZoneById("America/New_York"));
        await SitePagesTests.Input(page, "infused-at").FillAsync(infusedAt.ToString("yyyy-MM-ddTHH:mm", System.Globalization.CultureInfo.InvariantCulture));
        await page.GetByTestId("record-infusion").ClickAsync();
        await page.GetByTestId("action-result").Filter(new() { HasText = "Infusion recorded" }).WaitForAsync();
        await ChooseAsync(page, "event-type", "Stroke");
        await FillAsync(page, "event-onset", infusedAt.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        await page.GetByTestId("report-event").ClickAsync();
        await page.GetByTestId("action-result").Filter(new() { HasText = "DSMB" }).WaitForAsync();

        await page.GetByTestId("open-randomized-in-error").ClickAsync();
        await ChooseAsync(page, "error-type", "Wrong stratum");
        await ChooseAsync(page, "correct-sex", "male"); // listed first, so the match is not "female"
        await FillAsync(page, "error-reason", "Recorded female; the participant is male (source verified)");
        await page.GetByTestId("mark-continue-to-sign").ClickAsync();
        await page.SignAsync();
        var mark = page.GetByTestId("participant-randomized-in-error");
        await mark.WaitForAsync();

        var markText = await mark.InnerTextAsync();
        Assert.Contains("correct sex male (recorded female)", markText, StringComparison.Ordinal);
        Assert.Contains("keeps the allocation", markText, StringComparison.Ordinal);
        Assert.Contains(Signing.FullNameOf("investigator-um"), await page.GetByTestId("randomized-in-error-signature").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(a.RandomizationNumber, (await page.GetByTestId("participant-number").InnerTextAsync()).Trim());
        Assert.Equal(0, await page.GetByTestId("open-randomized-in-error").CountAsync());
        var everything = await EverythingAsync(page);
        Assert.DoesNotMatch(Blind.Treatment(), everything);
        Assert.DoesNotContain($"Arm {armOfA}", everything, StringComparison.Ordinal);
        await page.GotoAsync(trial.Address + $"/participants/{a.ParticipantId}/confirmation");
        var printed = await page.GetByTestId("confirmation-randomized-in-error").InnerTextAsync();
        Assert.Contains(Signing.FullNameOf("investigator-um"), printed, StringComparison.Ordinal);
        Assert.Contains("Wrong stratum", printed, StringComparison.Ordinal);
        Assert.DoesNotMatch(Blind.Treatment(), await EverythingAsync(page));
        var stored = (await trial.Server.As(TrialRole.Monitor).Participants.GetParticipantAsync(new GetParticipantRequest { ParticipantId = a.ParticipantId })).Participant;
        Assert.Equal((RandomizedInErrorType.WrongStratum, Sex.Male, ParticipantStatus.Infused), (stored.RandomizedInError.Type, stored.RandomizedInError.CorrectSex, stored.Summary.Status));

        // The coordinator withdraws B; the participants list shows both flags, and still no arm.
        var coordinator = await trial.SignInAsync(browser.Browser, TrialRole.SiteCoordinator, "coordinator-um", ["UM"]);
        await coordinator.GotoAsync(trial.Address + $"/participants/{b.ParticipantId}");
        await coordinator.GetByTestId("participant").WaitForAsync();
        Assert.Equal(0, await coordinator.GetByTestId("open-randomized-in-error").CountAsync());
        await FillAsync(coordinator, "withdrawal-reason", "withdrew consent");
        await coordinator.GetByTestId("record-withdrawal").ClickAsync();
        // The record shows the withdrawal (the actions close with it); the allocation is unchanged.
        await coordinator.GetByTestId("participant-withdrawn").Filter(new() { HasText = "withdrew consent" }).WaitForAsync();
        Assert.Equal(b.RandomizationNumber, (await coordinator.GetByTestId("participant-number").InnerTextAsync()).Trim());
        await coordinator.GotoAsync(trial.Address + "/participants");
        var rowA = coordinator.Locator(".mud-table-body tr").Filter(new() { HasText = a.ParticipantId });
        var rowB = coordinator.Locator(".mud-table-body tr").Filter(new() { HasText = b.ParticipantId });
        await rowA.WaitForAsync();
        Assert.Contains("randomized in error: wrong stratum", await rowA.GetByTestId("participant-flags").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("withdrawn", await rowB.GetByTestId("participant-flags").InnerTextAsync(), StringComparison.Ordinal);
        Assert.DoesNotMatch(Blind.Treatment(), await EverythingAsync(coordinator));
    }
}
