using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Cratus.Randomization.Server.Persistence;

/// <summary>
/// A query compiled once per model, for the reads made on every call: EF Core then skips translating the query each
/// time. A compiled query may only run against the model it was compiled for, and a process can hold one model per
/// database provider (the tests run both), hence one compilation per model.
/// </summary>
public sealed class CompiledQuery<TQuery>(Func<TQuery> compile) where TQuery : class
{
    private readonly ConditionalWeakTable<IModel, TQuery> _byModel = [];

    public TQuery For(DbContext db) => _byModel.GetValue(db.Model, _ => compile());
}
