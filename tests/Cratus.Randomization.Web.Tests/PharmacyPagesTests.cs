using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Microsoft.Playwright;

namespace Cratus.Randomization.Web.Tests;

[Collection(UsesBrowser.Name)]
[Trait("Category", "Slow")]
public sealed class PharmacyPagesTests(BrowserFixture browser)
{
    /// <summary>A Phase II trial with <paramref name="count"/> participants randomized at UM through gRPC, and each one's dose order as gRPC answers it.</summary>
    private static async Task<Dictionary<string, GetDoseOrderResponse>> RandomizeAsync(WebTrial trial, int count)
    {
        await trial.Server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        var orders = new Dictionary<string, GetDoseOrderResponse>();
        for (var i = 0; i < count; i++)
        {
            var id = (await trial.Server.Site().RandomizeAsync(Requests.Randomize($"S-{i:D2}"))).Assignment.ParticipantId;
            orders[id] = await trial.Server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = id });
        }
        return orders;
    }

    private static string Content(GetDoseOrderResponse order) =>
        order.Placebo ? "Placebo" : $"{order.CellCount.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} cells";

    [Fact]
    public async Task The_pharmacist_sees_the_queue_with_each_participants_arm_as_the_grpc_dose_order_gives_it()
    {
        await using var trial = new WebTrial();
        var orders = await RandomizeAsync(trial, 6);
        var page = await trial.SignInAsync(browser.Browser, TrialRole.Pharmacist, "pharm-1");

        await page.GotoAsync(trial.Address + "/pharmacy");
        await page.GetByTestId("order-link").Nth(5).WaitForAsync();
        var rows = page.Locator("[data-testid=dose-orders] tbody tr");
        var shown = new Dictionary<string, (string Number, string Arm, string Content, string Dose)>();
        for (var i = 0; i < await rows.CountAsync(); i++)
        {
            var row = rows.Nth(i);
            shown[(await row.GetByTestId("order-link").InnerTextAsync()).Trim()] = (
                (await row.GetByTestId("order-number").InnerTextAsync()).Trim(), (await row.GetByTestId("order-arm").InnerTextAsync()).Trim(),
                (await row.GetByTestId("order-content").InnerTextAsync()).Trim(), (await row.GetByTestId("order-dose").InnerTextAsync()).Trim());
        }
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("pharmacy-queue") });

        Assert.Equal(orders.Keys.Order(), shown.Keys.Order());
        foreach (var (id, order) in orders)
            Assert.Equal((order.RandomizationNumber, order.ArmCode, Content(order), order.Treatment), shown[id]);
        Assert.Equal(3, orders.Values.Select(o => o.ArmCode).Distinct().Count());
    }

    [Fact]
    public async Task Opening_an_order_shows_it_with_its_history_and_is_recorded_in_the_audit_trail()
    {
        await using var trial = new WebTrial();
        var orders = await RandomizeAsync(trial, 3);
        var (id, order) = orders.First();
        var page = await trial.SignInAsync(browser.Browser, TrialRole.Pharmacist, "pharm-1");

        await page.GotoAsync(trial.Address + "/pharmacy");
        await page.GetByTestId("order-link").Filter(new() { HasText = id }).ClickAsync();
        await page.GetByTestId("order-detail").WaitForAsync();
        await page.GetByTestId("history").GetByText("pharm-1").WaitForAsync();
        var arm = (await page.GetByTestId("detail-arm").InnerTextAsync()).Trim();
        var number = (await page.GetByTestId("detail-number").InnerTextAsync()).Trim();
        var product = (await page.GetByTestId("detail-product").InnerTextAsync()).Trim();
        var history = await page.GetByTestId("history").InnerTextAsync();
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("pharmacy-order") });
        var audit = (await trial.Server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "dose_order.read", Target = id })).Events;

        Assert.EndsWith($"/pharmacy/orders/{id}", page.Url);
        Assert.Equal(order.ArmCode, arm);
        Assert.Equal(order.RandomizationNumber, number);
        Assert.Equal(order.ProductCode, product);
        Assert.Contains("Randomized", history);
        Assert.Contains("SiteCoordinator-UM", history);
        Assert.Contains("Dose order read", history);
        Assert.Contains(audit, e => e.User == "pharm-1" && e.Role == "pharmacist");
    }

    [Fact]
    public async Task The_bag_labels_of_the_three_arms_differ_only_in_the_identifiers()
    {
        await using var trial = new WebTrial();
        var orders = await RandomizeAsync(trial, 6);
        var onePerArm = orders.Values.GroupBy(o => o.ArmCode).Select(g => g.First()).OrderBy(o => o.ArmCode).ToList();
        var page = await trial.SignInAsync(browser.Browser, TrialRole.Pharmacist, "pharm-1");

        var labels = new List<(string Main, string Label)>();
        foreach (var order in onePerArm)
        {
            await page.GotoAsync($"{trial.Address}/pharmacy/orders/{order.ParticipantId}/label");
            await page.GetByTestId("bag-label").WaitForAsync();
            string Placeholders(string text) => text.Replace(order.ParticipantId, "{participant}", StringComparison.Ordinal)
                .Replace(order.RandomizationNumber, "{number}", StringComparison.Ordinal).Replace(order.ProductCode, "{product}", StringComparison.Ordinal);
            labels.Add((Placeholders(await page.Locator("#main").InnerTextAsync()), Placeholders(await page.GetByTestId("bag-label").EvaluateAsync<string>("e => e.outerHTML"))));
            if (order.ArmCode == onePerArm[0].ArmCode) await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("pharmacy-label") });
        }
        await page.EmulateMediaAsync(new() { Media = Media.Print });
        var appBarPrinted = await page.Locator(".mud-appbar").IsVisibleAsync();
        var title = await page.TitleAsync();

        Assert.Equal(3, labels.Count);
        Assert.All(labels, l => Assert.Equal(labels[0], l));
        Assert.Contains("For clinical trial use only", labels[0].Main, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("{participant}", labels[0].Main);
        Assert.Contains("{number}", labels[0].Main);
        Assert.Contains("{product}", labels[0].Main);
        Assert.Contains("CRATUS", labels[0].Main);
        // The trial's title names its product ("Stem Cells"), the same on every label; nothing names an arm or a dose.
        Assert.DoesNotMatch(@"(?i)\b(placebo|million|hMSCs?|cell count|arm|dose|treatment)\b|000,000", labels[0].Label);
        Assert.False(appBarPrinted);
        Assert.DoesNotContain("placebo", title, StringComparison.OrdinalIgnoreCase);
    }
}
