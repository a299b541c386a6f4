using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Core;
using OpenIddict.Server;

namespace Cratus.Randomization.Server.Rehearsal;

/// <summary>
/// The trial mode at work (DOMAIN.md, Environments): the clock every rule reads (the real one in production, a
/// <see cref="TrialClock"/> in UAT and training), the token audience, the mode header of every reply, and the start-up
/// checks. README, "Rehearsal: UAT and training".
/// </summary>
public static class RehearsalExtensions
{
    /// <summary>Registers the trial's <see cref="TimeProvider"/> for the configured mode, and what rehearsal needs.</summary>
    public static WebApplicationBuilder AddTrialClock(this WebApplicationBuilder builder)
    {
        var mode = builder.Configuration.GetSection(TrialOptions.Section).GetValue(nameof(TrialOptions.Mode), TrialMode.Production);
        builder.Services.AddOptions<RehearsalOptions>().BindConfiguration(RehearsalOptions.Section).ValidateDataAnnotations()
            .Validate<IOptions<TrialOptions>>((o, trial) => trial.Value.Mode != TrialMode.Production || !o.ClockControl,
                "Rehearsal:ClockControl is on while Trial:Mode is Production: a production trial runs on the real time. Turn Rehearsal:ClockControl off (it is for UAT and Training servers only).")
            .ValidateOnStart();
        // One trial clock per host; in production it exists (AdvanceTrialClock reads it to refuse) but no rule reads it.
        builder.Services.AddSingleton(_ => new TrialClock(TimeProvider.System));
        if (mode == TrialMode.Production) builder.Services.AddSingleton(TimeProvider.System);
        else builder.Services.AddSingleton<TimeProvider>(services => services.GetRequiredService<TrialClock>());
        builder.Services.AddHostedService<TrialClockKeeper>();

        // Sign-in lifetimes on the real clock (TrialClock.WallOf): a 30-day move of the trial clock must not expire
        // every token, code and web session, nor stamp new ones 30 days ahead of what their readers judge them by.
        builder.Services.AddSingleton<IPostConfigureOptions<CookieAuthenticationOptions>, SignInOnTheRealClock<CookieAuthenticationOptions>>();
        builder.Services.AddSingleton<IPostConfigureOptions<JwtBearerOptions>, SignInOnTheRealClock<JwtBearerOptions>>();
        builder.Services.AddSingleton<IPostConfigureOptions<OpenIdConnectOptions>, SignInOnTheRealClock<OpenIdConnectOptions>>();
        builder.Services.AddOptions<OpenIddictServerOptions>().PostConfigure<TimeProvider>((o, clock) => o.TimeProvider = TrialClock.WallOf(clock));
        builder.Services.AddOptions<OpenIddictCoreOptions>().PostConfigure<TimeProvider>((o, clock) => o.TimeProvider = TrialClock.WallOf(clock));

        // The audience carries the mode outside production (TrialModes.Audience), wherever tokens are signed or read.
        builder.Services.AddOptions<TokenOptions>()
            .PostConfigure<IOptions<TrialOptions>>((o, trial) => o.Audience = TrialModes.Audience(o.Audience, trial.Value.Mode))
            .Validate<IOptions<TrialOptions>>((o, trial) => trial.Value.Mode != TrialMode.Production
                    || !(o.Audience.EndsWith("/" + TrialModes.Wire(TrialMode.Uat), StringComparison.Ordinal) || o.Audience.EndsWith("/" + TrialModes.Wire(TrialMode.Training), StringComparison.Ordinal)),
                "Token:Audience ends with /uat or /training while Trial:Mode is Production: a production server must not accept rehearsal tokens. Set the production audience.");
        return builder;
    }

    /// <summary>Every reply, refusals included, says the trial mode in the <see cref="TrialModes.Header"/> header.</summary>
    public static WebApplication UseTrialModeHeader(this WebApplication app)
    {
        var value = TrialModes.Wire(app.Services.GetRequiredService<IOptions<TrialOptions>>().Value.Mode);
        app.Use((http, next) =>
        {
            http.Response.Headers[TrialModes.Header] = value;
            return next(http);
        });
        return app;
    }
}

/// <summary>A sign-in scheme (web session cookie, bearer tokens, the web sign-in) judges lifetimes on the real clock.</summary>
internal sealed class SignInOnTheRealClock<TOptions>(TimeProvider clock) : IPostConfigureOptions<TOptions> where TOptions : AuthenticationSchemeOptions
{
    public void PostConfigure(string? name, TOptions options) => options.TimeProvider = TrialClock.WallOf(clock);
}

/// <summary>
/// Keeps this node's trial clock on the stored offset: reads it once at start (after the migrations, before the first
/// call is served) and again every <see cref="RehearsalOptions.ClockRefreshInterval"/>, so a move made on another node
/// reaches this one within that interval (and at once on the node that made it). Logs the mode at start.
/// </summary>
public sealed partial class TrialClockKeeper(
    IServiceScopeFactory scopes, TrialClock clock, IOptions<TrialOptions> trial, IOptions<RehearsalOptions> options, ILogger<TrialClockKeeper> logger)
    : BackgroundService
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var mode = trial.Value.Mode;
        if (mode == TrialMode.Production)
        {
            LogProduction(logger);
            return;
        }
        await RefreshAsync(cancellationToken);
        LogRehearsal(logger, TrialModes.Title(mode), clock.GetUtcNow(), clock.Offset, options.Value.ClockControl ? "on" : "off");
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ClockRefreshInterval, clock.Wall);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await RefreshAsync(stoppingToken);
                }
                catch (Exception failure) when (failure is not OperationCanceledException)
                {
                    // The database is away for now: the clock keeps its last offset, and the next tick tries again.
                    LogRefreshFailed(logger, failure.GetType().Name);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private async Task RefreshAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TrialDbContext>();
        var stored = await db.TrialClock.AsNoTracking().Where(c => c.Id == TrialClockRecord.Only)
            .Select(c => (long?)c.OffsetMilliseconds).FirstOrDefaultAsync(ct);
        if (stored is { } offset) clock.CatchUp(offset);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Trial mode Production: the trial clock is the real time")]
    private static partial void LogProduction(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Trial mode {Mode}: a rehearsal, not the real trial. Trial clock {TrialNow:u} ({Offset} ahead of the real time); clock control {ClockControl}")]
    private static partial void LogRehearsal(ILogger logger, string mode, DateTimeOffset trialNow, TimeSpan offset, string clockControl);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The trial clock could not be read again ({Failure}); it keeps its last offset")]
    private static partial void LogRefreshFailed(ILogger logger, string failure);
}
