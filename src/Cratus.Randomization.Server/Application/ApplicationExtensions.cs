using Cratus.Randomization.Server.Application.Unblinding;
using Cratus.Randomization.Server.Application.Schedule;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;

namespace Cratus.Randomization.Server.Application;

public static class ApplicationExtensions
{
    /// <summary>Every use case of this assembly, one per operation, and what they stand on.</summary>
    public static IReadOnlyList<Type> UseCases { get; } = typeof(ApplicationExtensions).Assembly.GetTypes()
        .Where(t => t is { IsClass: true, IsAbstract: false } && IsUseCase(t)).OrderBy(t => t.FullName, StringComparer.Ordinal).ToList();

    public static WebApplicationBuilder AddTrialApplication(this WebApplicationBuilder builder)
    {
        foreach (var useCase in UseCases) builder.Services.AddScoped(useCase);
        builder.Services.AddScoped<ParticipantStore>();
        builder.Services.AddScoped<ScheduleKeeper>();
        builder.Services.AddScoped<AuditTrail>();
        builder.Services.AddScoped<Signatures.ElectronicSigning>();
        builder.Services.AddScoped<AllocationVerifier>();
        builder.Services.AddSingleton<AuditedReads>();
        builder.Services.AddScoped<Exports.ParticipantExporter>();
        builder.Services.AddScoped<Pharmacy.DoseUnits>();
        builder.Services.AddOptions<UnblindingOptions>().BindConfiguration(UnblindingOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        return builder;
    }

    /// <summary>Whether <paramref name="type"/> is one of the operations anyone may run before signing in.</summary>
    public static bool IsPublic(Type type) => DerivesFrom(type, typeof(PublicUseCase<,>));

    private static bool IsUseCase(Type type) => DerivesFrom(type, typeof(UseCase<,>)) || IsPublic(type);

    private static bool DerivesFrom(Type type, Type generic)
    {
        for (var t = type.BaseType; t is not null; t = t.BaseType)
        {
            if (t.IsGenericType && t.GetGenericTypeDefinition() == generic) return true;
        }
        return false;
    }
}
