using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Notifications;
using Cratus.Randomization.Server.Security;
using Microsoft.Data.Sqlite;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// Notification delivery across a crash of the server process (SIGKILL), on one SQLite file: a message committed and
/// not yet sent is sent after the restart, once; a message whose sending was interrupted (the receiver had it, the
/// server died before marking it sent) comes again with the same event id, so the receiver keeps one.
/// </summary>
[Trait("Category", "Slow")]
public sealed class NotificationDeliveryCrashTests : IAsyncLifetime
{
    private const string Secret = "crash-test-webhook-secret-0123456789-abcdef";
    private readonly string _folder = Directory.CreateTempSubdirectory("cratus-notify-crash-").FullName;
    private ServerProcess.Deployment _deployment = null!;

    public Task InitializeAsync()
    {
        _deployment = new ServerProcess.Deployment(_folder, targetParticipants: 30);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }

    private Dictionary<string, string> Settings(SmtpReceiver smtp, WebhookReceiver hooks, bool deliver)
    {
        var settings = _deployment.Settings("node", new Dictionary<string, string>
        {
            ["Database:Provider"] = "Sqlite",
            ["Database:SqlitePath"] = Path.Combine(_folder, "cratus.db"),
        });
        settings["Notifications:DeliveryEnabled"] = deliver ? "true" : "false";
        settings["Notifications:PollInterval"] = "00:00:00.200";
        settings["Notifications:Lease"] = "00:00:10"; // an attempt gives up after 5 s: the kill comes first
        settings["Notifications:WebhookSecret"] = Secret;
        settings["Notifications:Smtp:Host"] = "127.0.0.1";
        settings["Notifications:Smtp:Port"] = smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["Notifications:Smtp:Security"] = "None";
        settings["Notifications:Smtp:From"] = "cratus@trial.example.org";
        settings["Notifications:Recipients:0:Name"] = "sponsor";
        settings["Notifications:Recipients:0:Audience"] = "Sponsor";
        settings["Notifications:Recipients:0:Email"] = "sponsor@example.org";
        settings["Notifications:Recipients:1:Name"] = "monitor-edc";
        settings["Notifications:Recipients:1:Audience"] = "Monitor";
        settings["Notifications:Recipients:1:Webhook"] = hooks.Url("monitor");
        return settings;
    }

    [Fact]
    public async Task KilledBetweenCommitAndSend_SendsEachMessageOnceAfterTheRestart()
    {
        using var smtp = new SmtpReceiver();
        using var hooks = new WebhookReceiver(Secret);
        string participantId;
        await using (var server = await ServerProcess.StartAsync(Settings(smtp, hooks, deliver: false)))
        {
            await server.As(TrialRole.Statistician).Schedule.GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "crash test" });
            participantId = (await server.As(TrialRole.SiteCoordinator, "UM").Randomization.RandomizeAsync(Requests.Randomize("SCR-1"))).Assignment.ParticipantId;
            // Committed with the randomization; not sent.
        } // kill -9
        Assert.Empty(smtp.Messages);
        Assert.Empty(hooks.Received);

        await using (await ServerProcess.StartAsync(Settings(smtp, hooks, deliver: true)))
        {
            await Eventually.HoldsAsync(() => smtp.Messages.Count == 1 && hooks.Received.Count == 1, "one e-mail and one webhook after the restart", 60);
            await Task.Delay(2000);
        }

        var mail = Assert.Single(smtp.Messages);
        var hook = Assert.Single(hooks.Received);
        Assert.Contains(participantId, mail.MessageParts[0].BodyData, StringComparison.Ordinal);
        Assert.Contains(participantId, hook.Body, StringComparison.Ordinal);
        Assert.True(hook.SignatureValid);
        Assert.Equal(NotificationEvents.ParticipantRandomized, hook.Event);
    }

    [Fact]
    public async Task KilledWhileTheReceiverHasTheMessage_SendsItAgainWithTheSameEventId()
    {
        using var smtp = new SmtpReceiver();
        using var hooks = new WebhookReceiver(Secret) { Hold = true };
        await using (var server = await ServerProcess.StartAsync(Settings(smtp, hooks, deliver: true)))
        {
            await server.As(TrialRole.Statistician).Schedule.GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "crash test" });
            await server.As(TrialRole.SiteCoordinator, "UM").Randomization.RandomizeAsync(Requests.Randomize("SCR-1"));
            await Eventually.HoldsAsync(() => hooks.Received.Count == 1, "the webhook received, unanswered", 60);
        } // kill -9 while the receiver holds the request: the server never learned it was delivered
        hooks.Hold = false;

        await using (await ServerProcess.StartAsync(Settings(smtp, hooks, deliver: true)))
        {
            // After the dead node's lease (10 s) lapses, the message goes again.
            await Eventually.HoldsAsync(() => hooks.Received.Count == 2, "the webhook sent again after the restart", 60);
            await Task.Delay(4000);
        }

        var deliveries = hooks.Received.ToList();
        Assert.Equal(2, deliveries.Count); // at least once, and no more once it is acknowledged
        Assert.Single(deliveries.Select(d => d.EventId).Distinct()); // the receiver keeps one: same event id
        Assert.All(deliveries, d => Assert.True(d.SignatureValid));
        Assert.Single(smtp.Messages);
    }
}
