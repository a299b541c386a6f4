using Cratus.Randomization.Server;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;

var builder = WebApplication.CreateBuilder(args);
builder.AddTrialLogging();
builder.AddTrialDefinition();
builder.AddPersistence();
builder.AddTrialSecurity();
builder.AddTrialGrpc();

var app = builder.Build();
app.MapTrialServices();
await app.RunAsync();

/// <summary>The entry point, visible to the in-process test host.</summary>
public partial class Program;
