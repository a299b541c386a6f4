using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Microsoft.Playwright;

namespace Cratus.Randomization.Web.Tests;

/// <summary>
/// The prepared dose on the pages (issue #16): the pharmacist prepares and signs on the dose order page, a second
/// pharmacist checks and signs, the label prints with the QR code of the product id, the bag is dispatched; at the
/// site the coordinator checks the bag against the participant on the bedside page (a wrong bag refused, the right
/// one confirmed), blinded.
/// </summary>
[Collection(UsesBrowser.Name)]
[Trait("Category", "Slow")]
public sealed class BedsidePagesTests(BrowserFixture browser)
{
    [Fact]
    public async Task The_pharmacy_prepares_checks_labels_and_dispatches_on_the_pages_and_the_site_verifies_the_bag_at_the_bedside()
    {
        await using var trial = new WebTrial();
        await trial.Server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { BlockSizes = { 3 }, Reason = "Phase II schedule" });
        var orders = new List<GetDoseOrderResponse>();
        for (var i = 0; i < 3; i++)
        {
            var id = (await trial.Server.Site().RandomizeAsync(Requests.Randomize($"S-{i:D2}"))).Assignment.ParticipantId;
            orders.Add(await trial.Server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = id }));
        }
        var order = orders.First(o => !o.Placebo);
        var other = orders.First(o => o.Placebo);
        var units = await ProductPath.ReleasedUnitsAsync(trial.Server, 1, order.CellCount * 2);
        var otherBag = await ProductPath.DispatchedAsync(trial.Server, other.ParticipantId);

        // The preparing pharmacist: the dose order page, the preparation, signed.
        var pharmacist = await trial.SignInAsync(browser.Browser, TrialRole.Pharmacist, "pharm-1");
        await pharmacist.GotoAsync(trial.Address + $"/pharmacy/orders/{order.ParticipantId}");
        await pharmacist.GetByTestId("record-preparation").WaitForAsync();
        await SitePagesTests.Input(pharmacist, "prep-units").FillAsync(units[0]);
        await SitePagesTests.Input(pharmacist, "prep-post-thaw").FillAsync((order.CellCount + order.CellCount / 20).ToString(System.Globalization.CultureInfo.InvariantCulture));
        await SitePagesTests.Input(pharmacist, "prep-viability").FillAsync("91.5");
        await SitePagesTests.Input(pharmacist, "prep-final").FillAsync(order.CellCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await SitePagesTests.Input(pharmacist, "prep-volume").FillAsync("20");
        await SitePagesTests.Input(pharmacist, "prep-volume").BlurAsync();
        await pharmacist.GetByTestId("record-preparation").ClickAsync();
        await pharmacist.SignAsync();
        await pharmacist.GetByTestId("dose-product").WaitForAsync();
        var productId = (await pharmacist.GetByTestId("dose-product").InnerTextAsync()).Trim();
        Assert.Matches("^CP-[0-9A-Z]{10}$", productId);
        Assert.Equal("prepared", (await pharmacist.GetByTestId("dose-state").InnerTextAsync()).Trim());

        // The second pharmacist checks and signs.
        var checker = await trial.SignInAsync(browser.Browser, TrialRole.Pharmacist, ProductPath.SecondPharmacist);
        await checker.GotoAsync(trial.Address + $"/pharmacy/orders/{order.ParticipantId}");
        await checker.GetByTestId("verify-preparation").ClickAsync();
        await checker.SignAsync();
        await checker.GetByTestId("dose-state").Filter(new() { HasText = "verified" }).WaitForAsync();

        // The label, printable, with the QR code; then dispatch.
        await checker.GetByTestId("dose-label").ClickAsync();
        await checker.GetByTestId("label-qr").Locator("svg").WaitForAsync();
        var label = await checker.GetByTestId("dose-label").InnerTextAsync();
        await checker.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("pharmacy-dose-label") });
        Assert.Contains($"Product id: {productId}", label, StringComparison.Ordinal);
        Assert.Contains($"Participant: {order.ParticipantId}", label, StringComparison.Ordinal);
        Assert.DoesNotMatch(Blind.Treatment(), label);
        await checker.GoBackAsync();
        await SitePagesTests.Input(checker, "courier").FillAsync("courier J. Smith");
        await SitePagesTests.Input(checker, "courier").BlurAsync();
        await checker.GetByTestId("dispatch").ClickAsync();
        await checker.GetByTestId("dose-state").Filter(new() { HasText = "dispatched" }).WaitForAsync();

        // At the bedside: the other participant's bag is refused, this one confirmed; no treatment on the page.
        var coordinator = await trial.SignInAsync(browser.Browser, TrialRole.SiteCoordinator);
        await coordinator.GotoAsync(trial.Address + "/bedside");
        await SitePagesTests.Input(coordinator, "bedside-product").FillAsync(otherBag);
        await SitePagesTests.Input(coordinator, "bedside-participant").FillAsync(order.ParticipantId);
        await coordinator.GetByTestId("bedside-verify").ClickAsync();
        var refused = (await coordinator.GetByTestId("bedside-result").Filter(new() { HasText = "Refused" }).InnerTextAsync()).Trim();
        await SitePagesTests.Input(coordinator, "bedside-product").FillAsync(productId);
        await coordinator.GetByTestId("bedside-verify").ClickAsync();
        var confirmed = (await coordinator.GetByTestId("bedside-result").Filter(new() { HasText = "Verified" }).InnerTextAsync()).Trim();
        await coordinator.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("bedside-verified") });
        var page = await coordinator.ContentAsync();

        Assert.Contains("was not prepared for participant", refused, StringComparison.Ordinal);
        Assert.Contains(productId, confirmed, StringComparison.Ordinal);
        Assert.DoesNotMatch(Blind.Treatment(), page);
        var dose = (await trial.Server.Pharmacy().GetPreparationAsync(new GetPreparationRequest { ParticipantId = order.ParticipantId })).Dose;
        Assert.Equal(DoseState.VerifiedAtBedside, dose.State);
        Assert.Equal(["pharm-1", ProductPath.SecondPharmacist], dose.Signatures.Select(s => s.UserName));
    }
}
