using Cratus.Randomization.Server.Security;
using Microsoft.Playwright;
using Proto = Cratus.Randomization.Protos.V1;

namespace Cratus.Randomization.Web.Tests;

/// <summary>
/// The site's pages (coordinator and investigator, own sites only): Phase I enrolment, Phase II randomization with its
/// confirmation step and printable confirmation, the participant page and its actions, and the emergency unblinding.
/// </summary>
[Collection(UsesBrowser.Name)]
[Trait("Category", "Slow")]
public sealed class SitePagesTests(BrowserFixture browser)
{
    private static readonly (string, string) TwoSites =
        ("{ \"code\": \"UM\", \"name\": \"University of Miami, Interdisciplinary Stem Cell Institute\" }",
         "{ \"code\": \"UM\", \"name\": \"University of Miami, Interdisciplinary Stem Cell Institute\" }, { \"code\": \"JH\", \"name\": \"Second site\" }");

    /// <summary>What a blinded page must never show of Phase II (the arms of trial-definitions/cratus.json and their words).</summary>
    private static readonly string[] ArmWords = ["placebo", "million", "allo-hMSCs", "Arm A", "Arm B", "Arm C", "cell count"];

    private static readonly ViewportSize Phone = new() { Width = 390, Height = 844 };

    [Fact]
    public async Task Enrol_EligiblePerson_ShowsThePlacementWithItsDose_ThenTheParticipantPageRecordsTheInfusion()
    {
        await using var trial = new WebTrial(TestDatabase.Sqlite, ("", ""));
        var page = await trial.SignInAsync(browser.Browser, TrialRole.SiteCoordinator, "coord-um", ["UM"]);

        await page.GotoAsync(trial.Address + "/enrol");
        var cohort = await page.GetByTestId("open-cohort").InnerTextAsync();
        Assert.Contains("Cohort 1", cohort);
        Assert.Contains("20 million allo-hMSCs", cohort);
        await FillEligibleAsync(page, trial, "E-001");
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("enrol"), FullPage = true });
        await page.GetByTestId("enrol").ClickAsync();
        await page.GetByTestId("placement").WaitForAsync();

        var participantId = (await page.GetByTestId("placement-participant").InnerTextAsync()).Trim();
        Assert.Equal("1", (await page.GetByTestId("placement-cohort").InnerTextAsync()).Trim());
        Assert.Equal("20 million allo-hMSCs", (await page.GetByTestId("placement-dose").InnerTextAsync()).Trim());
        Assert.StartsWith("K-", (await page.GetByTestId("placement-product").InnerTextAsync()).Trim());
        var status = (await trial.Server.As(TrialRole.Monitor).DoseEscalation.GetEscalationStatusAsync(new Proto.GetEscalationStatusRequest())).Status;
        Assert.Equal(1, status.Cohorts[0].Enrolled);

        // The participant page, reached from the placement: record the infusion.
        await page.GetByTestId("placement-participant").GetByRole(AriaRole.Link).ClickAsync();
        await page.GetByTestId("participant").WaitForAsync();
        Assert.Equal(participantId, (await page.GetByTestId("participant-id").InnerTextAsync()).Trim());
        Assert.Equal("—", (await page.GetByTestId("participant-infused").InnerTextAsync()).Trim());
        // The infusion gate: the pharmacy's bag reaches the bedside and is verified first.
        await ProductPath.VerifiedAtBedsideAsync(trial.Server, participantId);
        // A minute after the enrolment (the test's clock stands still), typed in the trial's time zone.
        var infusedAt = TimeZoneInfo.ConvertTime(trial.Server.Clock.GetUtcNow().AddMinutes(1), TimeZoneInfo.FindSystemTimeZoneById("America/New_York"));
        await Input(page, "infused-at").FillAsync(infusedAt.ToString("yyyy-MM-ddTHH:mm", System.Globalization.CultureInfo.InvariantCulture));
        await page.GetByTestId("record-infusion").ClickAsync();
        await page.GetByTestId("action-result").WaitForAsync();

        Assert.Contains("Infusion recorded", await page.GetByTestId("action-result").InnerTextAsync());
        Assert.NotEqual("—", (await page.GetByTestId("participant-infused").InnerTextAsync()).Trim());
        Assert.Equal("Infused", (await page.GetByTestId("participant-status").InnerTextAsync()).Trim());
        status = (await trial.Server.As(TrialRole.Monitor).DoseEscalation.GetEscalationStatusAsync(new Proto.GetEscalationStatusRequest())).Status;
        Assert.Equal(1, status.Cohorts[0].Infused);
        var infused = (await trial.Server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new Proto.ListAuditEventsRequest { Target = participantId })).Events;
        Assert.Contains(infused, e => e.Action.Contains("infus", StringComparison.OrdinalIgnoreCase) && e.User == "coord-um");
    }

    [Fact]
    public async Task Enrol_IneligiblePerson_ShowsEachFailedCriterionAtItsFieldAndWritesNothing()
    {
        await using var trial = new WebTrial(TestDatabase.Sqlite, ("", ""));
        var page = await trial.SignInAsync(browser.Browser, TrialRole.SiteCoordinator, "coord-um", ["UM"]);
        await page.GotoAsync(trial.Address + "/enrol");

        await FillEligibleAsync(page, trial, "E-002", dateOfBirth: "1980-05-01", frailty: "8", mmse: "20");
        await page.GetByTestId("exclusion-serious-comorbidity-yes").ClickAsync();
        await page.GetByTestId("enrol").ClickAsync();
        await page.GetByTestId("refusal").WaitForAsync();

        Assert.Equal("ParticipantIneligible", await page.GetByTestId("refusal").GetAttributeAsync("data-reason"));
        Assert.Contains("below the minimum of 60", await Field(page, "eligibility.date_of_birth").InnerTextAsync());
        Assert.Contains("Clinical Frailty Scale score 8", await Field(page, "eligibility.clinical_frailty_scale").InnerTextAsync());
        Assert.Contains("MMSE score 20", await Field(page, "eligibility.mmse_score").InnerTextAsync());
        Assert.Contains("exclusion criterion applies", await page.Locator("[data-criterion='serious-comorbidity']").InnerTextAsync());
        Assert.DoesNotContain("exclusion criterion applies", await page.Locator("[data-criterion='recent-malignancy']").InnerTextAsync());
        Assert.Equal(0, await page.GetByTestId("placement").CountAsync());
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("enrol-ineligible"), FullPage = true });
        var status = (await trial.Server.As(TrialRole.Monitor).DoseEscalation.GetEscalationStatusAsync(new Proto.GetEscalationStatusRequest())).Status;
        Assert.Equal(0, status.Cohorts[0].Enrolled);
        var listed = await trial.Server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new Proto.ListAuditEventsRequest());
        Assert.DoesNotContain(listed.Events, e => e.Details.Contains("E-002", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Randomize_ThroughTheConfirmationStep_ShowsNumberAndProductCode_AndThePrintableConfirmationHasNoArm()
    {
        await using var trial = new WebTrial();
        await trial.Server.Statistician().GenerateScheduleAsync(new Proto.GenerateScheduleRequest { Reason = "initial" });
        var page = await trial.SignInAsync(browser.Browser, TrialRole.SiteCoordinator, "coord-um", ["UM"]);

        await page.GotoAsync(trial.Address + "/randomize");
        await FillEligibleAsync(page, trial, "R-001");
        await page.GetByTestId("review").ClickAsync();
        var confirm = await page.GetByTestId("confirm-text").InnerTextAsync();
        Assert.Contains("R-001", confirm);
        Assert.Contains("UM", confirm);
        Assert.Contains("cannot be undone", confirm);
        Assert.Equal(0, (await trial.Server.As(TrialRole.Monitor).Trial.GetTrialAsync(new Proto.GetTrialRequest())).RandomizedParticipants);
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("randomize-confirm") });
        // A double click randomizes once: the button is disabled while the call runs, and a click already on its way is dropped.
        await page.GetByTestId("randomize-confirm").DblClickAsync();
        await page.GetByTestId("assignment").WaitForAsync();
        Assert.Equal(1, (await trial.Server.As(TrialRole.Monitor).Trial.GetTrialAsync(new Proto.GetTrialRequest())).RandomizedParticipants);

        var participantId = (await page.GetByTestId("assignment-participant").InnerTextAsync()).Trim();
        var number = (await page.GetByTestId("assignment-number").InnerTextAsync()).Trim();
        var product = (await page.GetByTestId("assignment-product").InnerTextAsync()).Trim();
        var stored = (await trial.Server.Site("UM").GetAssignmentAsync(new Proto.GetAssignmentRequest { ParticipantId = participantId })).Assignment;
        Assert.Equal((stored.RandomizationNumber, stored.ProductCode, stored.ScreeningId), (number, product, "R-001"));
        await AssertBlindAsync(page);

        await page.GetByTestId("confirmation-link").ClickAsync();
        await page.GetByTestId("confirmation").WaitForAsync();
        Assert.Equal(number, (await page.GetByTestId("confirmation-number").InnerTextAsync()).Trim());
        Assert.Equal(product, (await page.GetByTestId("confirmation-product").InnerTextAsync()).Trim());
        Assert.Equal(participantId, (await page.GetByTestId("confirmation-participant").InnerTextAsync()).Trim());
        Assert.Equal("R-001", (await page.GetByTestId("confirmation-screening").InnerTextAsync()).Trim());
        Assert.Equal("coord-um", (await page.GetByTestId("confirmation-by").InnerTextAsync()).Trim());
        Assert.Contains("CRATUS", await page.GetByTestId("confirmation-trial").InnerTextAsync());
        Assert.Contains("UM", await page.GetByTestId("confirmation-site").InnerTextAsync());
        await AssertBlindAsync(page);
        // Printed: the confirmation alone, without the application's bar, menu or buttons.
        await page.EmulateMediaAsync(new() { Media = Media.Print });
        Assert.False(await page.Locator(".mud-appbar").IsVisibleAsync());
        Assert.False(await page.GetByTestId("print").IsVisibleAsync());
        Assert.True(await page.GetByTestId("confirmation").IsVisibleAsync());
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("randomize-printable-confirmation"), FullPage = true });

        // At phone width: the confirmation step (of a second person, not randomized) and the printable confirmation.
        var phone = await trial.SignInAsync(browser.Browser, TrialRole.SiteCoordinator, "coord-um", ["UM"], Phone);
        await phone.GotoAsync(trial.Address + "/randomize");
        await FillEligibleAsync(phone, trial, "R-002");
        await phone.GetByTestId("review").ClickAsync();
        Assert.Contains("R-002", await phone.GetByTestId("confirm-text").InnerTextAsync());
        await phone.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("randomize-confirm-phone") });
        await phone.GotoAsync(trial.Address + $"/participants/{participantId}/confirmation");
        await phone.GetByTestId("confirmation").WaitForAsync();
        await phone.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("randomize-printable-confirmation-phone"), FullPage = true });
        Assert.Equal(1, (await trial.Server.As(TrialRole.Monitor).Trial.GetTrialAsync(new Proto.GetTrialRequest())).RandomizedParticipants);
    }

    [Fact]
    public async Task Participant_OfSiteUmOpenedByACoordinatorOfAnotherSite_IsNotFoundAsAMissingOneIs()
    {
        await using var trial = new WebTrial(TestDatabase.Sqlite, TwoSites);
        await trial.Server.Statistician().GenerateScheduleAsync(new Proto.GenerateScheduleRequest { Reason = "initial" });
        var participantId = (await trial.Server.Site("UM").RandomizeAsync(Requests.Randomize("S-UM-1"))).Assignment.ParticipantId;
        var page = await trial.SignInAsync(browser.Browser, TrialRole.SiteCoordinator, "coord-jh", ["JH"]);

        await page.GotoAsync(trial.Address + "/participants/" + participantId);
        await page.GetByTestId("refusal").WaitForAsync();
        var otherSite = (await page.GetByTestId("refusal").GetAttributeAsync("data-reason"), await page.GetByTestId("refusal").InnerTextAsync());
        Assert.Equal(0, await page.GetByTestId("participant").CountAsync());
        Assert.DoesNotContain("S-UM-1", await page.ContentAsync());
        await page.GotoAsync(trial.Address + "/participants/P-NOSUCHONE0");
        await page.GetByTestId("refusal").WaitForAsync();
        var missing = (await page.GetByTestId("refusal").GetAttributeAsync("data-reason"), await page.GetByTestId("refusal").InnerTextAsync());

        Assert.Equal("ParticipantNotFound", otherSite.Item1);
        Assert.Equal(missing.Item1, otherSite.Item1);
        Assert.Equal(missing.Item2.Replace("P-NOSUCHONE0", "", StringComparison.Ordinal), otherSite.Item2.Replace(participantId, "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EmergencyUnblinding_InvestigatorInThreeClicks_SeesTheArmOnce_AuditedWithTheSignature_AndTheCoordinatorNeverSeesIt()
    {
        await using var trial = new WebTrial();
        var (participantId, armCode, treatment) = await RandomizedAsync(trial);
        var page = await trial.SignInAsync(browser.Browser, TrialRole.Investigator, "dr-jones", ["UM"]);

        await page.GotoAsync(trial.Address + "/participants");
        await page.GetByRole(AriaRole.Link, new() { Name = participantId }).WaitForAsync();
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("participants") });
        await page.GotoAsync(trial.Address + "/participants/" + participantId);
        await page.GetByTestId("participant").WaitForAsync();
        await AssertBlindAsync(page);
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("participant-detail") });

        var clicks = await UnblindAsync(page, "anaphylaxis; the treating physician needs to know");

        Assert.Equal(3, clicks);
        var shown = await page.GetByTestId("revealed-arm").InnerTextAsync();
        Assert.Contains($"Arm {armCode}: {treatment}", shown);
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("emergency-unblinding") });
        var events = (await trial.Server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new Proto.ListAuditEventsRequest { Action = "unblinding.emergency" })).Events;
        var e = Assert.Single(events);
        Assert.Equal(("dr-jones", "investigator", participantId), (e.User, e.Role, e.Target));
        Assert.Equal("anaphylaxis; the treating physician needs to know", e.Reason);
        Assert.Equal(Proto.SignedAction.EmergencyUnblinding, e.Signature.Action);
        Assert.Equal(participantId, e.Signature.RecordId);
        Assert.Equal("dr-jones", e.Signature.UserName);
        Assert.Equal(Proto.SignatureMeaning.Responsibility, e.Signature.Meaning);
        Assert.True((await trial.Server.Site("UM").GetAssignmentAsync(new Proto.GetAssignmentRequest { ParticipantId = participantId })).Assignment.EmergencyUnblinded);

        // Once: gone after leaving the page, and not on the page when it is opened again.
        await page.GetByRole(AriaRole.Link, new() { Name = "All participants" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = participantId }).ClickAsync();
        await page.GetByTestId("participant").WaitForAsync();
        Assert.Equal(0, await page.GetByTestId("revealed-arm").CountAsync());
        Assert.Contains("emergency unblinded", await page.GetByTestId("participant-status").InnerTextAsync());
        await AssertBlindAsync(page);

        // The coordinator of the same site: no button, no arm, even after the unblinding.
        var coordinator = await trial.SignInAsync(browser.Browser, TrialRole.SiteCoordinator, "coord-um", ["UM"]);
        await coordinator.GotoAsync(trial.Address + "/participants/" + participantId);
        await coordinator.GetByTestId("participant").WaitForAsync();
        Assert.Equal(0, await coordinator.GetByTestId("emergency-unblinding").CountAsync());
        Assert.Equal(0, await coordinator.GetByTestId("unblinding").CountAsync());
        Assert.DoesNotContain(treatment, await coordinator.ContentAsync(), StringComparison.OrdinalIgnoreCase);
        await AssertBlindAsync(coordinator);
    }

    [Fact]
    public async Task EmergencyUnblinding_AtPhoneWidth_WorksInThreeClicks()
    {
        await using var trial = new WebTrial();
        var (participantId, armCode, treatment) = await RandomizedAsync(trial);
        var page = await trial.SignInAsync(browser.Browser, TrialRole.Investigator, "dr-jones", ["UM"], Phone);

        await page.GotoAsync(trial.Address + "/participants");
        await page.GetByRole(AriaRole.Link, new() { Name = participantId }).WaitForAsync();
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("participants-phone") });
        await page.GotoAsync(trial.Address + "/participants/" + participantId);
        await page.GetByTestId("participant").WaitForAsync();
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("participant-detail-phone"), FullPage = true });

        var clicks = await UnblindAsync(page, "collapsed at the bedside");

        Assert.Equal(3, clicks);
        Assert.Contains($"Arm {armCode}: {treatment}", await page.GetByTestId("revealed-arm").InnerTextAsync());
        await page.GetByTestId("revealed-arm").ScrollIntoViewIfNeededAsync();
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("emergency-unblinding-phone") });
        // Nothing of the page is wider than the phone.
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth + 1"));
    }

    /// <summary>Three randomized participants at UM; the second one, with its arm as the pharmacy reads it.</summary>
    private static async Task<(string ParticipantId, string ArmCode, string Treatment)> RandomizedAsync(WebTrial trial)
    {
        await trial.Server.Statistician().GenerateScheduleAsync(new Proto.GenerateScheduleRequest { Reason = "initial" });
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
            ids.Add((await trial.Server.Site("UM").RandomizeAsync(Requests.Randomize($"S-{i}", i % 2 == 0 ? Proto.Sex.Female : Proto.Sex.Male))).Assignment.ParticipantId);
        var order = await trial.Server.Pharmacy().GetDoseOrderAsync(new Proto.GetDoseOrderRequest { ParticipantId = ids[1] });
        return (ids[1], order.ArmCode, order.Treatment);
    }

    /// <summary>The emergency unblinding from the participant page, counting the clicks it takes.</summary>
    internal static async Task<int> UnblindAsync(IPage page, string reason)
    {
        var clicks = 0;
        await page.GetByTestId("emergency-unblinding").ClickAsync();
        clicks++;
        await Input(page, "unblinding-reason").FillAsync(reason);
        await page.GetByTestId("continue-to-sign").ClickAsync();
        clicks++;
        await Input(page, "signature-password").FillAsync(Signing.Password);
        await page.GetByTestId("sign").ClickAsync();
        clicks++;
        await page.GetByTestId("revealed-arm").WaitForAsync();
        return clicks;
    }

    /// <summary>The eligibility form filled in for an eligible person (or with the values given).</summary>
    internal static async Task FillEligibleAsync(IPage page, WebTrial trial, string screeningId, string dateOfBirth = "1950-03-14", string frailty = "5", string mmse = "28")
    {
        var today = trial.Server.Clock.GetUtcNow().UtcDateTime.AddDays(-2);
        await Input(page, "screening-id").FillAsync(screeningId);
        await Input(page, "consent-date").FillAsync(today.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        await Input(page, "date-of-birth").FillAsync(dateOfBirth);
        await page.GetByLabel("Female", new() { Exact = true }).CheckAsync();
        await Input(page, "cfs").FillAsync(frailty);
        await Input(page, "mmse").FillAsync(mmse);
        foreach (var code in new[] { "cannot-perform-assessments", "serious-comorbidity", "life-expectancy-under-1-year", "recent-malignancy" })
            await page.GetByTestId($"exclusion-{code}-no").ClickAsync();
    }

    /// <summary>The input of a MudBlazor field, whether the test id sits on the input or around it.</summary>
    internal static ILocator Input(IPage page, string testId) =>
        page.Locator($"input[data-testid='{testId}'], textarea[data-testid='{testId}'], [data-testid='{testId}'] input, [data-testid='{testId}'] textarea").First;

    private static ILocator Field(IPage page, string field) => page.Locator($"[data-field='{field}']");

    private static async Task AssertBlindAsync(IPage page)
    {
        var html = await page.ContentAsync();
        foreach (var word in ArmWords) Assert.DoesNotContain(word, html, StringComparison.OrdinalIgnoreCase);
    }
}
