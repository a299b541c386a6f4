using Cratus.Randomization.Server;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Rest;
using Cratus.Randomization.Server.Security;
using Cratus.Randomization.Server.Telemetry;
using Cratus.Randomization.Server.Web;

try
{
    var builder = WebApplication.CreateBuilder(HostingExtensions.Options(args));
    builder.AddTrialLogging();
    builder.AddTrialDefinition();
    builder.AddPersistence();
    builder.AddTrialSecurity();
    builder.AddTrialGrpc();
    builder.AddTrialRest();
    builder.AddTrialWebApplication();
    builder.AddTrialNotifications();
    builder.AddTrialTelemetry();

    var app = builder.Build();
    app.UseTrialMetricsEndpoint();
    app.MapTrialServices();
    await app.RunAsync();
    return 0;
}
catch (Exception failure) when (failure is not HostAbortedException && System.Reflection.Assembly.GetEntryAssembly() == typeof(Program).Assembly)
{
    // A server that cannot start says why in one line and exits with a documented code (README, "Exit codes").
    // (Hosted in another process, the test host, the failure goes to that host as it is.)
    var (exitCode, line) = StartupFailure.Describe(failure);
    await Console.Error.WriteLineAsync($"cratus-server: cannot start: {line}");
    return exitCode;
}

/// <summary>The entry point, visible to the in-process test host.</summary>
public partial class Program;
