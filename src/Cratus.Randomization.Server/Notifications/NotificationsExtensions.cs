using Cratus.Randomization.Server.Application.Notifications;
using Microsoft.Extensions.Options;

using Cratus.Randomization.Server.Notifications;

namespace Cratus.Randomization.Server;

public static class NotificationsExtensions
{
    /// <summary>
    /// The outbox's composer (called by the audit trail), its delivery worker and its two channels. Refuses to start with
    /// recipients it cannot reach, and outside Development with a webhook secret or SMTP password from the repository.
    /// </summary>
    public static WebApplicationBuilder AddTrialNotifications(this WebApplicationBuilder builder)
    {
        var isDevelopment = builder.Environment.IsDevelopment();
        builder.Services.AddOptions<NotificationOptions>()
            .BindConfiguration(NotificationOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<NotificationOptions>>(new NotificationOptionsValidation(isDevelopment));
        builder.Services.AddSingleton<OutboxSignal>();
        builder.Services.AddScoped<NotificationComposer>();
        builder.Services.AddSingleton<INotificationSender, EmailSender>();
        builder.Services.AddSingleton<INotificationSender, WebhookSender>();
        builder.Services.AddHostedService<OutboxDelivery>();
        return builder;
    }
}

/// <summary>Every problem of the Notifications section, each named (StartupFailure reports them all at once).</summary>
internal sealed class NotificationOptionsValidation(bool isDevelopment) : IValidateOptions<NotificationOptions>
{
    public ValidateOptionsResult Validate(string? name, NotificationOptions options)
    {
        var problems = options.Problems().ToList();
        if (!isDevelopment && options.UsesRepositorySecret())
            problems.Add("Notifications:WebhookSecret or Notifications:Smtp:Password is a development or sample secret from the repository. "
                + "Outside the Development environment set your own secret through an environment variable or a secret store.");
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
