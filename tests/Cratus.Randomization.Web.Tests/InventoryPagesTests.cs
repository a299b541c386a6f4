using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Microsoft.Playwright;

namespace Cratus.Randomization.Web.Tests;

/// <summary>The inventory pages: the pharmacist registers a lot, QA releases it with the signature dialog and quarantines it, the history shows it.</summary>
[Collection(UsesBrowser.Name)]
[Trait("Category", "Slow")]
public sealed class InventoryPagesTests(BrowserFixture browser)
{
    private static ILocator Input(IPage page, string testId) => SitePagesTests.Input(page, testId);

    [Fact]
    public async Task Pharmacist_registers_a_lot_QA_releases_it_signed_then_quarantines_it_and_the_history_shows_each_step()
    {
        await using var trial = new WebTrial();
        var pharmacist = await trial.SignInAsync(browser.Browser, TrialRole.Pharmacist, "pharm-1");
        Assert.Equal(200, await trial.OpenAsync(pharmacist, "/inventory"));

        // A wrong DIN check character is refused on the page, naming the right one.
        await Input(pharmacist, "lot-number").FillAsync("LOT-WEB-1");
        await Input(pharmacist, "donor-code").FillAsync("D-0042");
        await Input(pharmacist, "product-code").FillAsync("E0001V00");
        await Input(pharmacist, "lot-expiry").FillAsync("2027-06-30");
        await Input(pharmacist, "lot-units").FillAsync("G123498654321X, 100000000, 93.5, LN2 tank 1 box 4");
        await pharmacist.GetByTestId("register-lot").ClickAsync();
        var refusal = pharmacist.GetByTestId("refusal");
        await refusal.WaitForAsync();
        Assert.Equal("DonationNumberInvalid", await refusal.GetAttributeAsync("data-reason"));
        Assert.Contains("should be H", await refusal.InnerTextAsync());

        await Input(pharmacist, "lot-units").FillAsync("G123498654321H, 100000000, 93.5, LN2 tank 1 box 4\nABCDE27000069C, 100000000, 93.1, LN2 tank 1 box 4");
        await pharmacist.GetByTestId("register-lot").ClickAsync();
        var lot = pharmacist.Locator("[data-testid=lot][data-lot='LOT-WEB-1']");
        await lot.WaitForAsync();
        Assert.Equal("awaiting release", (await lot.GetByTestId("lot-status").InnerTextAsync()).Trim());
        Assert.Equal(["in quarantine", "in quarantine"], (await lot.GetByTestId("unit-state").AllInnerTextsAsync()).Select(t => t.Trim()));
        await pharmacist.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("inventory-registered") });

        var qa = await trial.SignInAsync(browser.Browser, TrialRole.QualityAssurance, "qa-1");
        Assert.Equal(200, await trial.OpenAsync(qa, "/inventory"));
        var qaLot = qa.Locator("[data-testid=lot][data-lot='LOT-WEB-1']");
        await qaLot.GetByTestId("release-lot").ClickAsync();
        await Input(qa, "signature-password").FillAsync(Signing.Password);
        await qa.GetByTestId("sign").ClickAsync();
        await qaLot.GetByTestId("lot-signature").WaitForAsync();
        Assert.Contains("Signed by Signer qa-1 (qa-1, quality_assurance)", await qaLot.GetByTestId("lot-signature").InnerTextAsync());
        Assert.Equal("released", (await qaLot.GetByTestId("lot-status").InnerTextAsync()).Trim());
        Assert.Equal("2 of 2 units usable", (await qaLot.GetByTestId("lot-usable").InnerTextAsync()).Trim());

        await Input(qa, "lot-reason").FillAsync("endotoxin out of specification on retest");
        await qaLot.GetByTestId("quarantine-lot").ClickAsync();
        await qaLot.GetByTestId("lot-quarantine").WaitForAsync();
        Assert.Equal("quarantined", (await qaLot.GetByTestId("lot-status").InnerTextAsync()).Trim());
        await qa.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("inventory-quarantined") });

        // The unit's history, from the lot: registration, release (linked to its audit event), quarantine.
        await qaLot.GetByTestId("unit-history").First.ClickAsync();
        await qa.GetByTestId("product-history").WaitForAsync();
        var what = (await qa.GetByTestId("event-what").AllInnerTextsAsync()).Select(t => t.Trim()).ToList();
        Assert.Equal(["lot registered", "unit registered (in quarantine)", "lot released", "unit released (in quarantine → released)", "lot quarantined",
            "unit quarantined (released → in quarantine)"], what);
        var released = Assert.Single((await trial.Server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "lot.released" })).Events);
        Assert.Contains($"#{released.Sequence}", await qa.GetByTestId("product-history").InnerTextAsync());
        Assert.Equal("qa-1", released.User);
    }
}
