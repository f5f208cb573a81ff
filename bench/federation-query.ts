/** The query `bench:federation` measures: a PRODUCTS fetch, then a REVIEWS entity fetch. */
export const FEDERATED_QUERY = "{ products { id name price reviewCount } }";
