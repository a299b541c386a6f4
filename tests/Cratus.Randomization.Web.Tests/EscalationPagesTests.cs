using System.Text.RegularExpressions;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Playwright;

namespace Cratus.Randomization.Web.Tests;

[Collection(UsesBrowser.Name)]
[Trait("Category", "Slow")]
public sealed partial class EscalationPagesTests(BrowserFixture browser)
{
    /// <summary>Phase I as shipped (the gate kept): cohort 1's five participants enrolled and infused a day apart, through gRPC.</summary>
    private static async Task<WebTrial> CohortOneInfusedAsync()
    {
        var trial = new WebTrial(TestDatabase.Sqlite, ("", ""));
        // A client per call: its token is minted on the server's clock, which moves a day at a time.
        DoseEscalationService.DoseEscalationServiceClient Site() => trial.Server.As(TrialRole.SiteCoordinator, "UM").DoseEscalation;
        for (var i = 0; i < 5; i++)
        {
            var enrolled = (await Site().EnrollInCohortAsync(new EnrollInCohortRequest
            {
                RequestId = Guid.NewGuid().ToString(), SiteCode = "UM", ScreeningId = $"C1-{i}", Eligibility = Requests.Eligible(),
            })).Assignment;
            await ProductPath.InfuseAsync(trial.Server, enrolled.ParticipantId);
            trial.Server.Clock.Advance(TimeSpan.FromDays(1));
        }
        return trial;
    }

    [GeneratedRegex(@"closes \d{4}-\d{2}-\d{2} \((\d+) days? left\)")]
    private static partial Regex WindowOpen();

    [Fact]
    public async Task A_site_coordinator_sees_the_board_with_the_windows_time_left_but_no_decision_form()
    {
        await using var trial = await CohortOneInfusedAsync();
        trial.Server.Clock.Advance(TimeSpan.FromDays(10));
        var page = await trial.SignInAsync(browser.Browser, TrialRole.SiteCoordinator, "coord-um", ["UM"]);

        await page.GotoAsync(trial.Address + "/escalation");
        await page.GetByTestId("cohorts").WaitForAsync();
        var windows = await page.GetByTestId("windows").First.InnerTextAsync();
        var body = await page.Locator("#main").InnerTextAsync();
        var formCount = await page.GetByTestId("decision-form").CountAsync();
        var status = (await trial.Server.As(TrialRole.Monitor).DoseEscalation.GetEscalationStatusAsync(new GetEscalationStatusRequest())).Status;

        Assert.Equal(5, WindowOpen().Count(windows));
        // Infused on days 0..4, now day 15: the first window closes in 15 days, the last in 19 (give or take the day boundary).
        var left = WindowOpen().Matches(windows).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.InRange(left[0], 14, 16);
        Assert.InRange(left[4], 18, 20);
        Assert.Contains("20 million allo-hMSCs", body);
        Assert.Contains(status.NextStep, body);
        Assert.All(status.Blocking, b => Assert.Contains(b, body));
        Assert.Equal(0, formCount);
        Assert.DoesNotContain("Sign and record", body);
    }

    [Fact]
    public async Task The_dsmb_records_an_escalation_with_its_e_signature_once_the_windows_have_closed()
    {
        await using var trial = await CohortOneInfusedAsync();
        trial.Server.Clock.Advance(TimeSpan.FromDays(31));
        var page = await trial.SignInAsync(browser.Browser, TrialRole.DsmbMember, "dsmb-1");

        await page.GotoAsync(trial.Address + "/escalation");
        await page.GetByTestId("decision-form").WaitForAsync();
        var windowsBefore = await page.GetByTestId("windows").First.InnerTextAsync();
        await page.ChooseAsync("Decision", "Escalate to the next cohort");
        await page.FillFieldAsync("Reason", "Cohort 1 reviewed: no TE-SAE in any window");
        await page.GetByTestId("decide").ClickAsync();
        await page.SignAsync();
        var signature = page.GetByTestId("decision-signature").First;
        await signature.GetByText("Signed by").WaitForAsync();
        var decisions = await page.GetByTestId("decisions").InnerTextAsync();
        var signatureText = await signature.InnerTextAsync();
        // The header's phase moves on with the decision, without navigating away.
        await Assertions.Expect(page.Locator(".status-chips").GetByTestId("phase")).ToHaveTextAsync("Phase I · cohort 2");
        await page.EvaluateAsync("window.scrollTo(0, 0)");
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("escalation-board"), FullPage = true });
        var status = (await trial.Server.As(TrialRole.Monitor).DoseEscalation.GetEscalationStatusAsync(new GetEscalationStatusRequest())).Status;
        var audit = (await trial.Server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "dsmb.decision" })).Events;

        Assert.Equal(5, Regex.Count(windowsBefore, @"closed \d{4}-\d{2}-\d{2}"));
        Assert.Contains("Escalate to the next cohort", decisions);
        Assert.Contains("Cohort 1 reviewed: no TE-SAE in any window", decisions);
        Assert.Contains("dsmb-1", signatureText);
        Assert.Contains("Approval", signatureText);
        Assert.Equal(2, status.CurrentCohort);
        Assert.Single(status.Decisions);
        var signed = Assert.Single(audit);
        Assert.Equal("dsmb-1", signed.User);
        Assert.Equal(SignedAction.DsmbDecision, signed.Signature.Action);
        Assert.Equal("1", signed.Signature.RecordId);
    }
}
