using System.Security.Cryptography;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Microsoft.Playwright;
using static Cratus.Randomization.Web.Tests.StatisticianSteps;

namespace Cratus.Randomization.Web.Tests;

[Collection(UsesBrowser.Name)]
[Trait("Category", "Slow")]
public sealed class ExportPagesTests(BrowserFixture browser)
{
    /// <summary>Clicks Export and answers the downloaded file's name and bytes.</summary>
    private static async Task<(string Name, byte[] Bytes)> DownloadAsync(IPage page)
    {
        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByTestId("export").ClickAsync());
        return (download.SuggestedFilename, await File.ReadAllBytesAsync(await download.PathAsync()));
    }

    [Fact]
    public async Task The_monitor_downloads_a_blinded_export_without_any_arm_and_a_statistician_an_unblinded_one_under_an_approved_request()
    {
        await using var trial = new WebTrial();
        var server = trial.Server;
        await server.As(TrialRole.Statistician).Schedule.GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        var ids = new List<string>();
        for (var i = 1; i <= 6; i++)
            ids.Add((await server.Site("UM").RandomizeAsync(Requests.Randomize($"S-{i}", i % 2 == 0 ? Sex.Male : Sex.Female))).Assignment.ParticipantId);

        // The monitor: a blinded export, everything the browser receives watched for a treatment.
        var monitor = await trial.SignInAsync(browser.Browser, TrialRole.Monitor);
        var blind = new Blind();
        blind.Watch(monitor);
        await monitor.GotoAsync(trial.Address + "/exports");
        await ChooseAsync(monitor, "export-format", "CDISC dataset");
        var (blindedName, blindedBytes) = await DownloadAsync(monitor);
        await monitor.GetByTestId("export-result").WaitForAsync();
        await blind.RecordAsync(monitor);
        Assert.Equal(0, await monitor.GetByTestId("export-unblinding").CountAsync());

        Assert.StartsWith("CRATUS_PRODUCTION_adsl_blinded_", blindedName, StringComparison.Ordinal);
        var blindedText = System.Text.Encoding.UTF8.GetString(blindedBytes);
        Assert.DoesNotMatch(Blind.Treatment(), blindedText);
        Assert.DoesNotContain("ARMCD", blindedText, StringComparison.Ordinal);
        Assert.All(ids, id => Assert.Contains(id, blindedText, StringComparison.Ordinal));
        Assert.Contains(blind.Seen, s => s.Where.StartsWith("download ", StringComparison.Ordinal));
        blind.AssertNothingNamesATreatment("the monitor");
        var sha = Convert.ToHexStringLower(SHA256.HashData(blindedBytes));
        Assert.Equal(sha, (await monitor.GetByTestId("export-sha256").InnerTextAsync()).Trim());
        var recorded = await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "export.participants" });
        Assert.Contains($"sha256 {sha}", Assert.Single(recorded.Events).Details, StringComparison.Ordinal);

        // A statistician: an unblinded export under an approved final request, chosen from the list.
        var request = (await new UnblindingService.UnblindingServiceClient(server.Channel(server.Token(TrialRole.Statistician, "stat-a"))).RequestUnblindingAsync(
            new RequestUnblindingRequest { Scope = UnblindingScope.Final, Reason = "database lock" })).Request;
        await new UnblindingService.UnblindingServiceClient(server.Channel(server.Token(TrialRole.Statistician, "stat-b"))).ApproveUnblindingAsync(
            new ApproveUnblindingRequest { UnblindingId = request.UnblindingId, Reason = "locked" });
        var statistician = await trial.SignInAsync(browser.Browser, TrialRole.Statistician, "stat-a");
        await statistician.GotoAsync(trial.Address + "/exports");
        await ChooseAsync(statistician, "export-unblinding", request.UnblindingId);
        var (unblindedName, unblindedBytes) = await DownloadAsync(statistician);

        Assert.StartsWith($"CRATUS_PRODUCTION_participants_unblinded-{request.UnblindingId}_", unblindedName, StringComparison.Ordinal);
        var lines = System.Text.Encoding.UTF8.GetString(unblindedBytes).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var header = lines[0].Split(',');
        Assert.Equal(7, lines.Length);
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split(',');
            var id = cells[Array.IndexOf(header, "participant_id")];
            var arm = (await server.As(TrialRole.Pharmacist).Pharmacy.GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = id })).ArmCode;
            Assert.Equal(arm, cells[Array.IndexOf(header, "arm_code")]);
        }
    }
}
